"""TorchClassifier's notebook display: a few lines of HTML (parameters changed from
their defaults; once fitted the architecture, classes and last loss) instead of
scikit-learn's 34,000-character estimator diagram. ``__repr__`` stays scikit-learn's
``TorchClassifier(max_iter=5)``, already short."""

from __future__ import annotations

from torchclf.data import summary


class ShortDisplay:
    """Mixin for TorchClassifier: ``_repr_html_`` as a small table."""

    def _repr_html_(self) -> str:
        changed = {k: v for k, v in self.get_params(deep=False).items()
                   if repr(v) != repr(type(self)().get_params(deep=False).get(k))}
        rows = [("parameters", ", ".join(f"{k}={v!r}" for k, v in changed.items())
                 or "defaults")]
        if hasattr(self, "model_"):
            rows += [("model", summary.architecture(self.model_)),
                     (f"classes ({len(self.classes_)})", summary.listed(self.classes_)),
                     ("epochs", str(self.n_iter_))]
            if self.loss_curve_:
                rows.append(("last loss", f"{self.loss_curve_[-1]:.4g}"))
        else:
            rows.append(("state", "not fitted: call fit(X, y)"))
        return summary.table(type(self).__name__, rows)

    def _repr_mimebundle_(self, **kwargs) -> dict:  # what Jupyter asks scikit-learn for
        return {"text/plain": repr(self), "text/html": self._repr_html_()}
