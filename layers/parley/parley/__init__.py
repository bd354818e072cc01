"""parley: the domain package shared by every function (shipped as a Lambda layer)."""
