from mlake.cli.main import run

run()
