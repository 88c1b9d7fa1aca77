import threading
from datetime import datetime, timedelta
from errbot import BotPlugin, botcmd


class DailyMessage(BotPlugin):
    """
    Send a daily status message to the admin with uptime and health info.
    """

    def activate(self):
        super().activate()
        self.activation_time = datetime.now()
        self.running = True
        self.log.info("DailyMessage plugin activated")
        self._schedule_next_message()

    def deactivate(self):
        """Stop any scheduled tasks"""
        self.running = False
        self.log.info("DailyMessage plugin deactivated")
        super().deactivate()

    # ───────────────────────────────
    # Scheduling
    # ───────────────────────────────
    def _schedule_next_message(self):
        """Schedule next message for 07:00"""
        now = datetime.now()
        next_run = now.replace(hour=7, minute=0, second=0, microsecond=0)
        if next_run <= now:
            next_run += timedelta(days=1)

        delay = (next_run - now).total_seconds()
        self.log.info(f"Next daily message scheduled for {next_run}")

        timer = threading.Timer(delay, self._send_daily_message)
        timer.daemon = True
        timer.start()

    # ───────────────────────────────
    # Message Logic
    # ───────────────────────────────
    def _send_daily_message(self):
        if not self.running:
            return

        uptime = self._get_uptime()
        health = self._get_health_status()
        message = (
            f"Good morning! I'm alive and well. 🌞\n\n"
            f"🕒 Uptime: {uptime}\n"
            f"💡 Health: {health}\n"
            f"📅 Time: {datetime.now():%Y-%m-%d %H:%M:%S}"
        )

        try:
            self.send_direct_message("@hermanl0", message)
            self.log.info("Daily message sent successfully")
        except Exception as e:
            self.log.error(f"Failed to send daily message: {e}")

        # Reschedule next message
        self._schedule_next_message()

    # ───────────────────────────────
    # Utility Methods
    # ───────────────────────────────
    def send_direct_message(self, user, message):
        """Send DM to specified user"""
        identifier = self.build_identifier(user)
        self.send(identifier, message)

    def _get_uptime(self):
        """Return human-readable uptime"""
        delta = datetime.now() - self.activation_time
        days, rem = delta.days, delta.seconds
        hours, rem = divmod(rem, 3600)
        minutes, _ = divmod(rem, 60)
        return f"{days}d {hours}h {minutes}m"

    def _get_health_status(self):
        """Summarize plugin health"""
        try:
            pm = self._bot.plugin_manager
            active = len(pm.get_all_active_plugin_names())
            disabled = len(pm.get_blacklisted_plugin())
            return "Healthy ✅" if disabled == 0 else f"Partially healthy ({disabled} disabled)"
        except Exception as e:
            self.log.error(f"Health check failed: {e}")
            return "Unknown ❓"

    # ───────────────────────────────
    # Manual Commands
    # ───────────────────────────────
    @botcmd
    def daily_stats(self, msg, args):
        """Show uptime and health manually"""
        return (
            f"Manual stats:\n\n"
            f"🕒 Uptime: {self._get_uptime()}\n"
            f"💡 Health: {self._get_health_status()}\n"
            f"📅 Time: {datetime.now():%Y-%m-%d %H:%M:%S}"
        )

