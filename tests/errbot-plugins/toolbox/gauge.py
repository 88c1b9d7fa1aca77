"""The Gauge plugin: its check_configuration accepts keys beyond its template, and refuses
with its own words what it does not like."""

from errbot import BotPlugin, ValidationException, botcmd


class Gauge(BotPlugin):
    def get_configuration_template(self):
        return {"UNIT": "cm"}

    def check_configuration(self, configuration):
        if not isinstance(configuration, dict) or "UNIT" not in configuration:
            raise ValidationException("a gauge needs a UNIT")

    @botcmd
    def gauge(self, msg, args):
        extra = sorted(k for k in self.config if k != "UNIT")
        return f"measuring in {self.config['UNIT']} (also: {', '.join(extra) or 'nothing'})"
