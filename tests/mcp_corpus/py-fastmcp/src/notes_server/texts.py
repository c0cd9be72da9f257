SEARCH_DESCRIPTION = (
    "Search notes by words. "
    "Returns note ids."
)

EXPORT_DESCRIPTION = "Export " + "all notes"
