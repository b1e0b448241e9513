"""Date formats per language (``FORMAT_MODULE_PATH``), laid over Django's own.

Pages name them (``|date:"SHORT_DATETIME_FORMAT"``) where a language puts words in a date (month
names, 월/일); purely numeric ones (``Y-m-d H:i``, 24-hour ``H:i``) are written out. Only formats
the pages use are set here: the admin keeps Django's.
"""
