DROP TABLE wa_history_notifications;
