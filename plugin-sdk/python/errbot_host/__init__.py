"""errbot_host: runs one unmodified Errbot plugin as an errbot-rs plugin process.

    python3 host.py PLUGIN_DIR

PLUGIN_DIR holds the plugin's `.plug` file and its module. The host reads the `.plug`
(plug.py), imports the module with the compatibility `errbot` package first on sys.path, and
serves errbot.v1.PluginService for the plugin class under the child contract (service.py);
what the plugin asks of the bot goes to errbotd's BotService and StorageService (bot.py)."""
