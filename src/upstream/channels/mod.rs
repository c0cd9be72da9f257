//! Release channels beyond git tags (being written).
