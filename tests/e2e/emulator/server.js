'use strict';

// Launcher of the telegram-test-api Bot API emulator for the Python e2e harness (harness.py).
//
//   node server.js PORT [--exit-on-stdin-close]
//
// PORT 0 picks a free port. When listening, one line goes to stdout:
//   TELEGRAM_EMULATOR_READY http://127.0.0.1:<port>
// With --exit-on-stdin-close the process exits when its stdin closes, so a test
// run that dies without cleanup does not leave the emulator behind.
//
// The package ships no launcher and several of its answers break aiogram 3, so this
// file puts an outer express app in front of the emulator's own one. The outer app
// owns every /bot<token>/<method> route (fixing the quirks listed in README.md next
// to this file) and adds /harness/* routes for the test harness. Simulated users
// still go through the emulator's client API (/sendMessage, /sendCallback, thinly
// wrapped so they answer with the ids assigned), and the emulator's storage and
// counters stay the single source of truth.

const path = require('path');
const TelegramServer = require('telegram-test-api');

// express is a dependency of telegram-test-api; resolve it from there so that the
// same copy is used and package.json only needs to pin the emulator itself.
const express = require(require.resolve('express', {
  paths: [path.dirname(require.resolve('telegram-test-api'))],
}));

const HOST = '127.0.0.1';
const READY_PREFIX = 'TELEGRAM_EMULATOR_READY';
// getUpdates waits for an update at most this long, whatever timeout the bot asks
// for, so that a stopping bot is never stuck in a long request.
const LONG_POLL_CAP_MS = 1000;
// The emulator purges stored messages older than storeTimeout seconds (60 by
// default), which would silently empty the history in a long test session.
const STORE_TIMEOUT_S = 24 * 3600;
const MAX_CALLS_LOGGED = 20000;
const MAX_TEXT_LENGTH = 4096;
const NOOP_TRUE_METHODS = [
  'sendChatAction', 'setMyCommands', 'deleteMyCommands', 'setMyDescription',
  'setMyShortDescription', 'setMyName', 'setChatMenuButton',
];
const UPDATE_TYPES = [
  'message', 'edited_message', 'channel_post', 'edited_channel_post', 'business_connection',
  'business_message', 'edited_business_message', 'deleted_business_messages',
  'message_reaction', 'message_reaction_count', 'inline_query', 'chosen_inline_result',
  'callback_query', 'shipping_query', 'pre_checkout_query', 'purchased_paid_media', 'poll',
  'poll_answer', 'my_chat_member', 'chat_member', 'chat_join_request', 'chat_boost',
  'removed_chat_boost',
];
const MESSAGE_KEYS = [
  'message', 'edited_message', 'channel_post', 'edited_channel_post', 'business_message',
  'edited_business_message',
];

function parsePort(argv) {
  const port = Number(argv[2]);
  if (!Number.isInteger(port) || port < 0 || port > 65535) {
    process.stderr.write('usage: node server.js PORT [--exit-on-stdin-close]\n');
    process.exit(2);
  }
  return port;
}

const port = parsePort(process.argv);
const server = new TelegramServer({ port, host: HOST, storeTimeout: STORE_TIMEOUT_S });
// normalizeConfig turns port 0 into its default 9000; 0 must reach listen() to get a free port.
server.config.port = port;

// ---------------------------------------------------------------- state
const profiles = new Map(); // token -> getMe overrides
const chats = new Map(); // String(chat id) -> Chat object last seen from a user
const callLog = new Map(); // token -> [{seq, time, method, params, unsupported?}]
const waiters = new Set(); // pending long-poll getUpdates requests
let callSeq = 0;

function nowSeconds() {
  return Math.floor(Date.now() / 1000);
}

function clone(value) {
  return value === undefined ? undefined : JSON.parse(JSON.stringify(value));
}

// Bot API calls come form-encoded, so nested objects arrive as JSON strings.
// Only these parameters are decoded: a message text may well look like JSON.
const JSON_PARAMS = new Set([
  'reply_markup', 'entities', 'caption_entities', 'reply_parameters', 'link_preview_options',
  'allowed_updates', 'commands', 'scope', 'menu_button', 'media', 'message_ids', 'reaction',
  'permissions', 'results', 'options',
]);

function parseJson(value) {
  if (typeof value !== 'string') {
    return value;
  }
  const trimmed = value.trim();
  if (!trimmed.startsWith('{') && !trimmed.startsWith('[')) {
    return value;
  }
  try {
    return JSON.parse(trimmed);
  } catch (_err) {
    return value;
  }
}

function requestParams(req) {
  const params = { ...(req.query || {}), ...(req.body || {}) };
  for (const key of Object.keys(params)) {
    if (JSON_PARAMS.has(key)) {
      params[key] = parseJson(params[key]);
    }
  }
  return params;
}

function recordCall(token, method, params, extra) {
  if (!callLog.has(token)) {
    callLog.set(token, []);
  }
  const log = callLog.get(token);
  callSeq += 1;
  log.push({ seq: callSeq, time: Date.now(), method, params, ...(extra || {}) });
  if (log.length > MAX_CALLS_LOGGED) {
    log.splice(0, log.length - MAX_CALLS_LOGGED);
  }
}

function tgError(res, status, description) {
  res.status(status).json({ ok: false, error_code: status, description });
}

function botUser(token) {
  const numericId = Number(String(token).split(':')[0]);
  return {
    // Real getMe answers with the id that prefixes the token; aiogram's Bot.id relies on it.
    id: Number.isSafeInteger(numericId) && numericId > 0 ? numericId : 666,
    is_bot: true,
    first_name: 'Test First name',
    username: 'TestNameBot',
    ...(profiles.get(token) || {}),
  };
}

function rememberChat(chat) {
  if (chat && chat.id !== undefined && chat.type) {
    chats.set(String(chat.id), clone(chat));
  }
}

function rememberChatsOfMessage(message) {
  if (message && typeof message === 'object') {
    rememberChat(message.chat);
    if (message.reply_to_message) {
      rememberChat(message.reply_to_message.chat);
    }
  }
}

// The emulator answers every bot message with a private chat named "Bot"; use
// the chat the users wrote from instead, or guess its type from the id sign.
function chatFor(chatId) {
  const known = chats.get(String(chatId));
  if (known) {
    return clone(known);
  }
  const id = Number(chatId);
  if (id > 0) {
    return { id, type: 'private', first_name: `User ${id}` };
  }
  const type = String(chatId).startsWith('-100') ? 'supergroup' : 'group';
  return { id, type, title: `Chat ${id}` };
}

function chatInstanceFor(chatId) {
  // Telegram's chat_instance is an opaque numeric string, stable per chat.
  return String(7000000000000000000n + BigInt(Math.trunc(Number(chatId) || 0)));
}

function isInlineMarkup(markup) {
  return Boolean(markup && typeof markup === 'object' && Array.isArray(markup.inline_keyboard));
}

function findBotEntry(token, chatId, messageId) {
  return server.storage.botMessages.find((entry) => entry.botToken === token
    && String(entry.message.chat_id) === String(chatId)
    && String(entry.messageId) === String(messageId));
}

function userEntryMessage(entry) {
  if (entry.raw) {
    const key = MESSAGE_KEYS.find((k) => entry.raw[k]);
    return key ? entry.raw[key] : undefined;
  }
  if (entry.message) {
    return { ...entry.message, message_id: entry.messageId };
  }
  return undefined;
}

function findUserMessage(token, chatId, messageId) {
  for (const entry of server.storage.userMessages) {
    if (entry.botToken !== token) {
      continue;
    }
    const message = userEntryMessage(entry);
    if (message && message.chat && String(message.chat.id) === String(chatId)
      && String(message.message_id) === String(messageId)) {
      return stripClientFields(clone(message));
    }
  }
  return undefined;
}

function stripClientFields(message) {
  delete message.botToken;
  return message;
}

function replyTargetId(msg) {
  const replyParameters = parseJson(msg.reply_parameters);
  if (replyParameters && typeof replyParameters === 'object' && replyParameters.message_id) {
    return { chatId: replyParameters.chat_id || msg.chat_id, messageId: replyParameters.message_id };
  }
  if (msg.reply_to_message_id) {
    return { chatId: msg.chat_id, messageId: msg.reply_to_message_id };
  }
  return undefined;
}

// A Telegram Message for a message the bot sent, built from the emulator's record
// (which holds the raw sendMessage parameters). With harness=true it also carries
// an "x_emulator" object with what only the test harness needs.
function botMessageView(entry, harness, depth = 0) {
  const msg = entry.message;
  const view = {
    message_id: entry.messageId,
    from: botUser(entry.botToken),
    chat: chatFor(msg.chat_id),
    // The emulator stores milliseconds; Telegram dates are Unix seconds.
    date: Math.floor(entry.time / 1000),
  };
  if (msg.message_thread_id !== undefined && msg.message_thread_id !== '') {
    view.message_thread_id = Number(msg.message_thread_id);
  }
  const target = depth === 0 ? replyTargetId(msg) : undefined;
  if (target) {
    const botTarget = findBotEntry(entry.botToken, target.chatId, target.messageId);
    const replied = botTarget
      ? botMessageView(botTarget, false, depth + 1)
      : findUserMessage(entry.botToken, target.chatId, target.messageId);
    if (replied) {
      delete replied.reply_to_message; // Telegram never nests replies deeper
      view.reply_to_message = replied;
    }
  }
  if (entry.editDate) {
    view.edit_date = entry.editDate;
  }
  if (msg.text !== undefined) {
    view.text = String(msg.text);
  }
  const entities = parseJson(msg.entities);
  if (Array.isArray(entities)) {
    view.entities = entities;
  }
  const markup = parseJson(msg.reply_markup);
  if (isInlineMarkup(markup)) {
    view.reply_markup = markup;
  }
  if (harness) {
    view.x_emulator = {
      parse_mode: msg.parse_mode,
      reply_markup: markup, // any keyboard kind, as the bot sent it
      edit_history: clone(entry.editHistory || []),
      request: clone(msg),
    };
  }
  return view;
}

// Single place that turns a stored user update into a Bot API Update. The
// emulator's own formatUpdate drops chat_instance (required by aiogram), leaks
// its internal botToken field into messages and cannot carry raw updates.
function formatUpdate(entry) {
  if (entry.raw) {
    return clone(entry.raw);
  }
  if ('callbackQuery' in entry) {
    const cq = entry.callbackQuery;
    let message = cq.message ? stripClientFields(clone(cq.message)) : undefined;
    const chatId = message && message.chat ? message.chat.id : undefined;
    if (message && message.message_id !== undefined && chatId !== undefined) {
      // Telegram sends the message as it is now, after any edits.
      const stored = findBotEntry(entry.botToken, chatId, message.message_id);
      if (stored) {
        message = botMessageView(stored, false);
      }
    }
    const callbackQuery = {
      id: String(entry.callbackId),
      from: cq.from,
      chat_instance: cq.chat_instance || chatInstanceFor(chatId),
    };
    if (message) {
      callbackQuery.message = message;
    }
    if (cq.inline_message_id) {
      callbackQuery.inline_message_id = cq.inline_message_id;
    }
    if (cq.data !== undefined) {
      callbackQuery.data = cq.data;
    }
    return { update_id: entry.updateId, callback_query: callbackQuery };
  }
  const message = stripClientFields({ ...clone(entry.message), message_id: entry.messageId });
  return { update_id: entry.updateId, message };
}

// Webhook deliveries go through TelegramServer.formatUpdate; use the fixed one there too.
TelegramServer.formatUpdate = formatUpdate;

function updateType(update) {
  return UPDATE_TYPES.find((type) => update[type] !== undefined);
}

function hasPending(token) {
  return server.storage.userMessages.some((entry) => entry.botToken === token && !entry.isRead);
}

function takeUpdates(token, allowedUpdates, limit) {
  const result = [];
  for (const entry of server.storage.userMessages) {
    if (result.length >= limit) {
      break;
    }
    if (entry.botToken !== token || entry.isRead) {
      continue;
    }
    entry.isRead = true;
    const update = formatUpdate(entry);
    const type = updateType(update);
    if (allowedUpdates && allowedUpdates.length && !allowedUpdates.includes(type)) {
      // Telegram drops updates of types the bot did not ask for; so does this.
      recordCall(token, 'x_dropped_update', { update, allowed_updates: allowedUpdates });
      continue;
    }
    result.push(update);
  }
  return result;
}

function notifyWaiters() {
  for (const waiter of [...waiters]) {
    waiter();
  }
}

// The emulator announces new user updates with these events.
for (const event of ['AddedUserMessage', 'AddedUserCommand', 'AddedUserCallbackQuery']) {
  server.on(event, notifyWaiters);
}

// ---------------------------------------------------------------- bot API routes
const app = express();
app.use(express.json({ limit: '10mb' }));
app.use(express.urlencoded({ extended: true, limit: '10mb' }));

function botRoute(method, handler) {
  app.all(`/bot:token/${method}`, (req, res) => {
    if (req.method !== 'GET' && req.method !== 'POST') {
      tgError(res, 405, `Method Not Allowed: HTTP ${req.method}`);
      return;
    }
    const { token } = req.params;
    const params = requestParams(req);
    recordCall(token, method, params);
    Promise.resolve()
      .then(() => handler(token, params, req, res))
      .catch((err) => {
        process.stderr.write(`emulator: ${method} failed: ${err && err.stack}\n`);
        if (!res.headersSent) {
          tgError(res, 500, `Internal Server Error: ${err && err.message}`);
        }
      });
  });
}

botRoute('getMe', (token, _params, _req, res) => {
  // The emulator's getMe has no is_bot, so aiogram cannot parse it.
  res.json({
    ok: true,
    result: {
      can_join_groups: true,
      can_read_all_group_messages: true,
      supports_inline_queries: false,
      ...botUser(token),
    },
  });
});

botRoute('getUpdates', (token, params, _req, res) => {
  // The emulator answers at once even when empty, which makes pollers busy-loop.
  const timeoutMs = Math.max(0, Number(params.timeout) || 0) * 1000;
  const waitMs = Math.min(timeoutMs, LONG_POLL_CAP_MS);
  const allowed = Array.isArray(params.allowed_updates) ? params.allowed_updates : undefined;
  const limit = Math.min(Math.max(Number(params.limit) || 100, 1), 100);
  let finished = false;
  let timer = null;
  function finish(force) {
    if (finished) {
      return;
    }
    const updates = takeUpdates(token, allowed, limit);
    if (updates.length === 0 && !force) {
      return; // nothing deliverable yet (or only updates the bot did not ask for)
    }
    finished = true;
    clearTimeout(timer);
    waiters.delete(waiter); // eslint-disable-line no-use-before-define
    res.json({ ok: true, result: updates });
  }
  const waiter = () => finish(false);
  finish(waitMs === 0);
  if (finished) {
    return;
  }
  timer = setTimeout(() => finish(true), waitMs);
  waiters.add(waiter);
  res.on('close', () => {
    // The bot gave up on the request (it is stopping): keep its updates queued.
    if (!finished) {
      finished = true;
      clearTimeout(timer);
      waiters.delete(waiter);
    }
  });
});

function textLength(text, parseMode) {
  let plain = String(text);
  if (String(parseMode || '').toLowerCase() === 'html') {
    plain = plain.replace(/<[^>]*>/g, '');
  }
  return plain.length;
}

botRoute('sendMessage', (token, params, _req, res) => {
  if (params.chat_id === undefined || params.chat_id === '') {
    tgError(res, 400, 'Bad Request: chat_id is empty');
    return;
  }
  if (params.text === undefined || String(params.text).trim() === '') {
    tgError(res, 400, 'Bad Request: message text is empty');
    return;
  }
  if (textLength(params.text, params.parse_mode) > MAX_TEXT_LENGTH) {
    tgError(res, 400, 'Bad Request: message is too long');
    return;
  }
  server.addBotMessage(params, token);
  const entry = server.storage.botMessages[server.storage.botMessages.length - 1];
  res.json({ ok: true, result: botMessageView(entry, false) });
});

function sameJson(a, b) {
  return JSON.stringify(a === undefined ? null : a) === JSON.stringify(b === undefined ? null : b);
}

function editBotMessage(token, params, res, changeText) {
  if (params.inline_message_id) {
    tgError(res, 501, 'Not Implemented: inline messages are not supported by the e2e emulator');
    return;
  }
  const entry = findBotEntry(token, params.chat_id, params.message_id);
  if (!entry) {
    tgError(res, 400, 'Bad Request: message to edit not found');
    return;
  }
  const msg = entry.message;
  const oldMarkup = parseJson(msg.reply_markup);
  // Like Telegram, an edit without reply_markup removes the inline keyboard (the
  // emulator merged the edit into the old message and kept it).
  const newMarkup = isInlineMarkup(params.reply_markup) ? params.reply_markup : undefined;
  const newText = changeText ? String(params.text) : msg.text;
  if (newText === msg.text && sameJson(newMarkup, isInlineMarkup(oldMarkup) ? oldMarkup : undefined)) {
    tgError(res, 400, 'Bad Request: message is not modified: specified new message content and reply '
      + 'markup are exactly the same as a current content and reply markup of the message');
    return;
  }
  if (changeText && textLength(newText, params.parse_mode) > MAX_TEXT_LENGTH) {
    tgError(res, 400, 'Bad Request: MESSAGE_TOO_LONG');
    return;
  }
  entry.editHistory = entry.editHistory || [];
  entry.editHistory.push({
    text: msg.text,
    reply_markup: clone(oldMarkup),
    date: entry.editDate || Math.floor(entry.time / 1000),
  });
  if (changeText) {
    msg.text = newText;
    for (const key of ['parse_mode', 'entities', 'link_preview_options']) {
      if (params[key] === undefined) {
        delete msg[key];
      } else {
        msg[key] = params[key];
      }
    }
  }
  if (newMarkup) {
    msg.reply_markup = newMarkup;
  } else if (!oldMarkup || isInlineMarkup(oldMarkup)) {
    delete msg.reply_markup;
  }
  entry.editDate = nowSeconds();
  server.emit(changeText ? 'EditedMessageText' : 'EditedMessageReplyMarkup');
  // The emulator answers edits with result null; aiogram expects the edited Message.
  res.json({ ok: true, result: botMessageView(entry, false) });
}

botRoute('editMessageText', (token, params, _req, res) => {
  if (params.text === undefined || String(params.text).trim() === '') {
    tgError(res, 400, 'Bad Request: text must be non-empty');
    return;
  }
  editBotMessage(token, params, res, true);
});

botRoute('editMessageReplyMarkup', (token, params, _req, res) => {
  editBotMessage(token, params, res, false);
});

botRoute('answerCallbackQuery', (_token, params, _req, res) => {
  if (!params.callback_query_id) {
    tgError(res, 400, 'Bad Request: query is too old and response timeout expired or query ID is invalid');
    return;
  }
  res.json({ ok: true, result: true });
});

botRoute('deleteMessage', (token, params, _req, res) => {
  // The emulator's own deleteMessage answers result null and crashes on raw updates.
  const botEntry = findBotEntry(token, params.chat_id, params.message_id);
  if (botEntry) {
    server.storage.botMessages = server.storage.botMessages.filter((e) => e !== botEntry);
    res.json({ ok: true, result: true });
    return;
  }
  const before = server.storage.userMessages.length;
  server.storage.userMessages = server.storage.userMessages.filter((entry) => {
    const message = entry.botToken === token ? userEntryMessage(entry) : undefined;
    return !(message && message.chat && String(message.chat.id) === String(params.chat_id)
      && String(message.message_id) === String(params.message_id));
  });
  if (server.storage.userMessages.length === before) {
    tgError(res, 400, 'Bad Request: message to delete not found');
    return;
  }
  res.json({ ok: true, result: true });
});

botRoute('setWebhook', (token, params, _req, res) => {
  if (!params.url) {
    tgError(res, 400, 'Bad Request: bad webhook: URL is empty');
    return;
  }
  server.setWebhook({ url: params.url }, token);
  res.json({ ok: true, result: true, description: 'Webhook was set' });
});

botRoute('deleteWebhook', (token, params, _req, res) => {
  server.deleteWebhook(token);
  if (String(params.drop_pending_updates) === 'true') {
    for (const entry of server.storage.userMessages) {
      if (entry.botToken === token) {
        entry.isRead = true;
      }
    }
  }
  res.json({ ok: true, result: true, description: 'Webhook was deleted' });
});

botRoute('getWebhookInfo', (token, _params, _req, res) => {
  const pending = server.storage.userMessages.filter((e) => e.botToken === token && !e.isRead).length;
  res.json({
    ok: true,
    result: { url: '', has_custom_certificate: false, pending_update_count: pending },
  });
});

for (const method of NOOP_TRUE_METHODS) {
  botRoute(method, (_token, _params, _req, res) => res.json({ ok: true, result: true }));
}

botRoute('getMyCommands', (_token, _params, _req, res) => res.json({ ok: true, result: [] }));

// Anything else: answer in Bot API shape (aiogram raises TelegramServerError with
// this description) instead of the emulator's bare 500, and log it as unsupported.
app.all('/bot:token/:method', (req, res) => {
  const { token, method } = req.params;
  recordCall(token, method, requestParams(req), { unsupported: true });
  tgError(res, 501, `Not Implemented: method '${method}' is not supported by the e2e emulator `
    + '(telegram-test-api 4.2.1)');
});

// ---------------------------------------------------------------- client routes
// Simulated users go through the emulator's own client API. These wrappers only
// remember the chats and answer with the stored message, so the harness learns
// the message_id the emulator assigned (the emulator answers result null).
function clientMessageRoute(route, addMethod) {
  app.post(route, (req, res) => {
    const body = req.body || {};
    if (!body.botToken || !body.chat || body.chat.id === undefined) {
      tgError(res, 400, `Bad Request: ${route} needs botToken and chat.id`);
      return;
    }
    rememberChatsOfMessage(body);
    const { updateId } = server;
    server[addMethod](body)
      .then(() => {
        const entry = server.storage.userMessages.find((e) => e.updateId === updateId);
        const update = entry ? formatUpdate(entry) : undefined;
        res.json({ ok: true, result: update ? update.message : null });
      })
      .catch((err) => tgError(res, 500, `Internal Server Error: ${err && err.message}`));
  });
}

clientMessageRoute('/sendMessage', 'addUserMessage');
clientMessageRoute('/sendCommand', 'addUserCommand');

app.post('/sendCallback', (req, res) => {
  const body = req.body || {};
  if (!body.botToken || !body.from) {
    tgError(res, 400, 'Bad Request: /sendCallback needs botToken and from');
    return;
  }
  rememberChatsOfMessage(body.message);
  const { callbackId, updateId } = server;
  server.addUserCallback(body)
    .then(() => res.json({ ok: true, result: { callback_query_id: String(callbackId), update_id: updateId } }))
    .catch((err) => tgError(res, 500, `Internal Server Error: ${err && err.message}`));
});

// ---------------------------------------------------------------- harness routes
// Queue a raw Update exactly as given, for what the client API cannot express:
// any update type, chosen ids, and the same update delivered twice. Missing
// update_id / message_id / date are filled in from the emulator's counters.
app.post('/harness/bot:token/update', (req, res) => {
  const { token } = req.params;
  const update = clone(req.body);
  if (!update || typeof update !== 'object' || Array.isArray(update) || !updateType(update)) {
    tgError(res, 400, `Bad Request: body must be an Update object with one of: ${UPDATE_TYPES.join(', ')}`);
    return;
  }
  if (update.update_id === undefined) {
    update.update_id = server.updateId;
  }
  const messageKey = MESSAGE_KEYS.find((k) => update[k]);
  if (messageKey) {
    const message = update[messageKey];
    if (message.message_id === undefined) {
      message.message_id = server.messageId;
      server.messageId += 1;
    }
    if (message.date === undefined) {
      message.date = nowSeconds();
    }
    rememberChatsOfMessage(message);
  }
  const entry = {
    time: Date.now(),
    botToken: token,
    updateId: update.update_id,
    messageId: messageKey ? update[messageKey].message_id : 0,
    isRead: false,
    raw: update,
  };
  // addUserUpdate queues it (or posts it to a webhook) and advances update ids.
  server.addUserUpdate(entry)
    .then(() => {
      notifyWaiters();
      res.json({ ok: true, result: update });
    })
    .catch((err) => tgError(res, 500, `Internal Server Error: ${err && err.message}`));
});

app.get('/harness/bot:token/messages', (req, res) => {
  const { token } = req.params;
  const chatId = req.query.chat_id;
  const result = server.storage.botMessages
    .filter((entry) => entry.botToken === token
      && (chatId === undefined || String(entry.message.chat_id) === String(chatId)))
    .sort((a, b) => a.messageId - b.messageId)
    .map((entry) => botMessageView(entry, true));
  res.json({ ok: true, result });
});

app.get('/harness/bot:token/calls', (req, res) => {
  const { token } = req.params;
  const { method } = req.query;
  const log = callLog.get(token) || [];
  res.json({ ok: true, result: method ? log.filter((c) => c.method === method) : log });
});

app.post('/harness/bot:token/profile', (req, res) => {
  const { token } = req.params;
  profiles.set(token, { ...(profiles.get(token) || {}), ...(req.body || {}) });
  res.json({ ok: true, result: botUser(token) });
});

app.post('/harness/chats', (req, res) => {
  rememberChat(req.body);
  res.json({ ok: true, result: true });
});

app.post('/harness/reset', (_req, res) => {
  server.storage.userMessages = [];
  server.storage.botMessages = [];
  profiles.clear();
  chats.clear();
  callLog.clear();
  res.json({ ok: true, result: true });
});

// Everything not handled above (the client's /getUpdates, /getUpdatesHistory)
// is the emulator's own app.
app.use(server.webServer);
server.webServer = app;

// ---------------------------------------------------------------- start
process.on('SIGTERM', () => process.exit(0));
process.on('SIGINT', () => process.exit(0));
if (process.argv.includes('--exit-on-stdin-close')) {
  process.stdin.on('end', () => process.exit(0));
  process.stdin.on('error', () => process.exit(0));
  process.stdin.resume();
}

server.start()
  .then(() => {
    const address = server.server.address();
    process.stdout.write(`${READY_PREFIX} http://${HOST}:${address.port}\n`);
  })
  .catch((err) => {
    process.stderr.write(`emulator: failed to start: ${err && err.stack}\n`);
    process.exit(1);
  });
