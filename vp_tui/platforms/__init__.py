"""One adapter per GPU provider behind the ``Platform`` protocol."""
