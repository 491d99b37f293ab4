/* The one thread pattern of the kernels: run a function on each of a few work items. */
#include <pthread.h>
#include <stddef.h>

#define MAX_ITEMS 64

/* fn on each of `count` items (`size` bytes apart, at most 64): items 1.. on threads of
 * their own, item 0 on the calling thread; an item whose thread cannot be started runs
 * on the calling thread after the others. Returns when every item is done. */
void run_parallel(void *(*fn)(void *), void *items, size_t size, int count) {
    pthread_t ids[MAX_ITEMS];
    int started[MAX_ITEMS] = {0};
    if (count > MAX_ITEMS) count = MAX_ITEMS;
    for (int t = 1; t < count; t++)
        started[t] = pthread_create(&ids[t], NULL, fn, (char *)items + t * size) == 0;
    fn(items);
    for (int t = 1; t < count; t++) {
        if (started[t]) pthread_join(ids[t], NULL);
        else fn((char *)items + t * size);  /* no thread to be had: do its part here */
    }
}
