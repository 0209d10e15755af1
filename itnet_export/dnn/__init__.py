"""The doubly nested network (sliceable in width and depth): model, data, training, resource
maps, catalog and plots.  Import the sub-modules directly; this package imports nothing eagerly,
so the torch-free parts (``budget``) load without torch."""
