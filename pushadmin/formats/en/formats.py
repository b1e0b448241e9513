# Month and day, with the time: "Nov 25 14:05"; month and day alone: "Nov 25" (chart labels).
SHORT_DATETIME_FORMAT = "M d H:i"
MONTH_DAY_FORMAT = "M d"
