"""The staff admin at `/admin/`: read-only lists over the read models, actions through the
command side, and the projections' operations page."""
