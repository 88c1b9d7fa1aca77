"""errbot.core_plugins.webserver: where Errbot's plugins often import `webhook` from. errbotd's
web server takes the Webserver plugin's place (`!plugin config Webserver`, or `[web]`)."""

from errbot.decorators import webhook

__all__ = ["webhook"]
