"""The `synthmir` command: its subcommands and their help."""

import pytest

from synthmir import cli


def test_cli_help_lists_the_subcommands(capsys):
    with pytest.raises(SystemExit):
        cli.main(["--help"])
    out = capsys.readouterr().out
    assert "predict" in out and "serve" in out
    for command in ("predict", "serve"):
        with pytest.raises(SystemExit):
            cli.main([command, "--help"])
        assert "--model" in capsys.readouterr().out
