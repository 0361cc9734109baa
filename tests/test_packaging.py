"""The package and its Hydra configs work when installed with pip, outside the checkout."""

import os
import subprocess
import sys


def test_installed_package_runs_from_another_folder(tmp_path):
    target = tmp_path / "site"
    install = subprocess.run(
        [sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--no-build-isolation", "--target", str(target), "."],
        cwd=os.path.dirname(os.path.dirname(__file__)),
        capture_output=True,
        text=True,
    )
    assert install.returncode == 0, install.stderr[-2000:]
    assert (target / "lightning_oneshot" / "conf" / "config.yaml").is_file()

    code = "from lightning_oneshot.cli import main; main()"
    run_dir = tmp_path / "run"
    result = subprocess.run(
        [sys.executable, "-c", code, "experiment=smoke", "search_space.width=4", f"hydra.run.dir={run_dir}", "stage=search"],
        cwd=tmp_path,
        env={**os.environ, "PYTHONPATH": str(target)},
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    assert (run_dir / "supernet.ckpt").is_file()
