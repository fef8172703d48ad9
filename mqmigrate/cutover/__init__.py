"""``mqmigrate cutover``: run a playbook's phases with gates, resumably, with rollback."""
