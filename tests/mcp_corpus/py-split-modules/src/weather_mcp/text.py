UNITS_NOTE = "All values are metric."
