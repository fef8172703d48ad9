"""Migration playbooks: the format (model), loading with exact error locations, rendering with
explanatory comments, the step graph and the playbook run state (applied steps)."""
