//! Pin-file editors (being written).
