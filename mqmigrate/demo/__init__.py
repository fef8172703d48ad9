"""``mqmigrate demo``: the migration story on the local sandbox (:mod:`.run`), and the live
service it migrates (:mod:`.traffic`), which the zero-downtime test drives too."""
