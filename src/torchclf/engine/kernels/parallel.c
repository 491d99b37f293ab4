/* The thread patterns of the kernels: a function on each of a few independent work
 * items (run_parallel), or a team of threads that work together (run_team). */
#define _POSIX_C_SOURCE 200809L /* sched_yield */
#include <pthread.h>
#include <sched.h>
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

typedef void (*team_fn)(void *arg, int t, int team);
typedef struct { team_fn fn; void *arg; int t; const int *go, *team; } Member;

static void *run_member(void *p) {
    Member *m = p;
    while (!__atomic_load_n(m->go, __ATOMIC_ACQUIRE)) sched_yield();
    m->fn(m->arg, m->t, *m->team);  /* a started member's t is below the team's size */
    return NULL;
}

/* fn(arg, t, team) for t = 0 .. team - 1 at once, t = 0 on the calling thread: team is
 * `count` (at most 64) or as many threads as could be started, fixed before any member
 * runs, so the members may wait for one another (barriers). Returns when all are done. */
void run_team(team_fn fn, void *arg, int count) {
    pthread_t ids[MAX_ITEMS];
    Member members[MAX_ITEMS];
    int go = 0, team = 1;
    if (count > MAX_ITEMS) count = MAX_ITEMS;
    for (int t = 1; t < count; t++) {
        members[t] = (Member){fn, arg, t, &go, &team};
        if (pthread_create(&ids[t], NULL, run_member, &members[t]) != 0) break;
        team = t + 1;
    }
    __atomic_store_n(&go, 1, __ATOMIC_RELEASE);
    fn(arg, 0, team);
    for (int t = 1; t < team; t++) pthread_join(ids[t], NULL);
}
