"""The account managers' and supervisors' pages, mounted at /dashboard/ (URL namespace "managers")."""

from django.urls import path

from . import activities, complaints, gifts, notifications, queue, surveys, tabs, views

app_name = "managers"

urlpatterns = [
    path("", queue.queue, name="dashboard"),
    path("queue/log/<str:msisdn>/", queue.queue_log, name="queue-log"),
    path("queue/undo/<int:log_id>/", queue.queue_undo, name="queue-undo"),
    path("retention/", tabs.retention, name="retention"),
    path("risk/", tabs.risk, name="risk"),
    path("birthdays/", tabs.birthdays, name="birthdays"),
    path("cards/", tabs.cards, name="cards"),
    path("activities/", activities.activities, name="activities"),
    path(
        "activities/<int:activity_id>/<str:msisdn>/<str:action>/",
        activities.activity_action,
        name="activity-action",
    ),
    path("notifications/", notifications.inbox, name="notifications"),
    path("notifications/read-all/", notifications.notifications_read_all, name="notifications-read-all"),
    path("notifications/<int:pk>/open/", notifications.notification_open, name="notification-open"),
    path("notifications/<int:pk>/read/", notifications.notification_read, name="notification-read"),
    path("contact/<str:msisdn>/", views.contact_log, name="contact"),
    path("complaints/", complaints.complaint_list, name="complaints"),
    path("complaints/<int:complaint_id>/", complaints.complaint_detail, name="complaint"),
    path("customers/<str:msisdn>/complaint/", complaints.complaint_log, name="complaint-log"),
    path("gifts/", gifts.gift_list, name="gifts"),
    path("gifts/<int:order_id>/", gifts.gift_detail, name="gift-order"),
    path("gifts/<int:order_id>/move/", gifts.gift_move, name="gift-order-move"),
    path("customers/", views.customer_list, name="customers"),
    path("customers/<str:msisdn>/", views.customer_detail, name="customer"),
    path("customers/<str:msisdn>/card/", views.card_action, name="card"),
    path("customers/<str:msisdn>/survey/", surveys.survey_answer, name="survey-answer"),
    path("customers/<str:msisdn>/gift/<int:obligation_id>/", views.birthday_gift, name="gift"),
    path("plans/", views.plans, name="plans"),
    path("team/", views.team, name="team"),
    path("team/plans/<int:pk>/review/", views.plan_review, name="plan-review"),
    path("team/logs/<int:pk>/review/", views.work_log_review, name="log-review"),
    path("team/<str:employee_no>/", views.team_manager, name="team-manager"),
    path("retention/cases/<int:case_id>/move/", views.case_move, name="retention-case-move"),
]
