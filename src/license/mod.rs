//! License judgement (being written).
