from mqmigrate.cli import run

run()
