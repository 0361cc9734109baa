"""Pre-flight checks for an online W&B logger, so that a run without network stops at once.

Without network access ``wandb.init`` in online mode retries for minutes before it gives up. These checks
look for an API key and open one TCP connection to the W&B server with a 5 s timeout before any work, and
stop the run with a message that suggests offline mode when either fails.

NOTE: a server that accepts the connection but responds slowly can still delay ``wandb.init``.
"""

from __future__ import annotations

import logging
import netrc
import os
import socket
from pathlib import Path
from urllib.parse import urlparse

from omegaconf import DictConfig

from lightning_oneshot.errors import ConfigError

log = logging.getLogger(__name__)

WANDB_LOGGER_TARGET = "lightning_oneshot.loggers.wandb_logger"
DEFAULT_WANDB_URL = "https://api.wandb.ai"
CONNECT_TIMEOUT_S = 5.0
_OFFLINE_HINT = (
    "Set logger.offline=true to log offline and upload later with `wandb sync <run folder>/wandb/offline-run-*`"
)


def _has_api_key(host: str) -> bool:
    if os.environ.get("WANDB_API_KEY"):
        return True
    # `wandb login` stores the key in the netrc file, under the server's host name.
    # NOTE: keys kept elsewhere by other W&B tools are not found here; WANDB_API_KEY always works.
    path = Path(os.environ.get("NETRC") or Path.home() / ".netrc")
    try:
        return path.is_file() and netrc.netrc(str(path)).authenticators(host) is not None
    except (OSError, netrc.NetrcParseError):
        return False


def check_wandb_online(cfg: DictConfig) -> None:
    """Raise ``ConfigError`` when an online W&B logger is configured but has no API key or cannot reach its server."""
    logger = cfg.get("logger")
    if not logger or logger.get("_target_") != WANDB_LOGGER_TARGET or logger.get("offline", True):
        return
    if os.environ.get("WANDB_MODE", "").lower() in ("offline", "disabled", "dryrun"):
        return

    url = os.environ.get("WANDB_BASE_URL") or DEFAULT_WANDB_URL
    parsed = urlparse(url)
    host = parsed.hostname or ""
    if not _has_api_key(host):
        raise ConfigError(
            f"logger.offline=false, but no W&B API key was found for {host} (WANDB_API_KEY is unset and the netrc "
            f"file has no entry). Run `wandb login` or set WANDB_API_KEY. {_OFFLINE_HINT}."
        )

    port = parsed.port or (443 if parsed.scheme == "https" else 80)
    try:
        socket.create_connection((host, port), timeout=CONNECT_TIMEOUT_S).close()
    except OSError as error:
        raise ConfigError(
            f"logger.offline=false, but the W&B server {url} cannot be reached ({type(error).__name__}: {error}; "
            f"timeout {CONNECT_TIMEOUT_S:.0f} s). {_OFFLINE_HINT}, or check the network and WANDB_BASE_URL."
        ) from error
    log.info("W&B server %s is reachable; logging online.", url)
