"""Container images: the build definitions of images/, building them offline, and the site registry."""
