"""The ``gnnx`` command's answers to files it cannot use: a message naming the file, exit 2."""
import zipfile

import pytest

from gnnx import cli


@pytest.mark.parametrize("command", ["info", "serve"])
def test_missing_and_foreign_files_are_named(command, tmp_path, capsys):
    missing = tmp_path / "missing.pt2"
    assert cli.main([command, str(missing)]) == 2
    assert f"{missing}: no such file" in capsys.readouterr().err
    text = tmp_path / "notes.pt2"
    text.write_text("not an archive")
    assert cli.main([command, str(text)]) == 2
    assert "not a zip archive" in capsys.readouterr().err


def test_info_names_an_archive_that_is_no_program(tmp_path, capsys):
    archive = tmp_path / "other.pt2"
    with zipfile.ZipFile(archive, "w") as z:
        z.writestr("a.txt", "x")
    assert cli.main(["info", str(archive)]) == 2
    assert "neither a gnnx package nor a saved program" in capsys.readouterr().err


def test_usage_without_a_command(capsys):
    assert cli.main([]) == 2
    assert "usage: gnnx" in capsys.readouterr().err
