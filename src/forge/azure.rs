//! Azure DevOps forge (being written).
