"""Running an audit's cases: model and image loading, batch computation, the local and Ray executors."""
