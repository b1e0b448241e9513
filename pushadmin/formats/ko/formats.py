# Month and day, with the time: "11월 25일 14:05"; month and day alone: "11월 25일" (chart labels).
SHORT_DATETIME_FORMAT = "n월 j일 H:i"
MONTH_DAY_FORMAT = "n월 j일"
