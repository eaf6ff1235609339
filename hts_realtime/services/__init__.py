"""Services: the background work that drives the domain on a clock."""
