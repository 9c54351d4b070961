"""Face data shared by training and evaluation: data-set readers (LFW's View-2 protocol, the
extra identity-labelled sources) and the image degradations. Research code: it is not part of
the installed runtime package, and the runtime never imports it."""
