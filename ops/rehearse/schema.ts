/** The table the rehearsal's app writes: a ChatMessage-like table with a sequence-fed id. */
export const CHAT_SCHEMA = `
CREATE TABLE IF NOT EXISTS "ChatMessage" (
  id bigserial PRIMARY KEY,
  "clientId" text NOT NULL UNIQUE,
  "conversationId" integer NOT NULL,
  body text NOT NULL,
  "createdAt" timestamptz NOT NULL DEFAULT now()
)`;
