const NOW = "Current date and time";
module.exports = { NOW };
