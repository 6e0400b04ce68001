-- Delivery receipts are stored: each member's delivered pointer moves forward only, like the
-- read pointer, and a read implies delivered. History before a member joined counts as
-- delivered, as it does as read.

ALTER TABLE conversation_members ADD COLUMN last_delivered_seq INTEGER NOT NULL DEFAULT 0;
UPDATE conversation_members SET last_delivered_seq = last_read_seq;
