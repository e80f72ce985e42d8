"""Binding a query to the model: names resolved to columns, literals to their columns' types (see ``binder``)."""
