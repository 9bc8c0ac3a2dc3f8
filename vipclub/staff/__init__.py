"""The club staff's workspace in the admin site (issue 16): the cockpit that replaces the admin index, the reports
menu and the reports it adds, the working-day calendar. Reads go through the apps' selectors, the calendar import
through managers.services; the pages are hooked in front of the admin's own urls (urls_cockpit)."""
