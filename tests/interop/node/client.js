#!/usr/bin/env node
// An ESME on node-smpp (npm "smpp") for the smppd interop tests.
//
//   node client.js HOST PORT SYSTEM_ID PASSWORD HELD_DESTINATION
//
// Binds as transceiver; submits a GSM message, a UCS2 one (with an emoji), a
// long one in message_payload and a long one split in two with a UDH, all
// asking for a receipt; waits for the receipts; query_sm on the first;
// submits to HELD_DESTINATION (the SMSC holds it) and cancel_sm's it; waits
// for that receipt; unbinds. Every step is printed as one JSON line on
// stdout; the last line is {"event":"done"} on success. With --until-unbind
// it binds, prints {"event":"bound"} and waits for the SMSC to unbind it. Exit status: 0 done,
// 1 error, 2 timed out. Nothing waits more than TIMEOUT_MS in all.
'use strict';

const smpp = require('smpp');

const TIMEOUT_MS = 20000;
const args = process.argv.slice(2);
const untilUnbind = args[0] === '--until-unbind';
if (untilUnbind) args.shift();
const [host, port, systemId, password, heldDestination] = args;
if (!password || !(heldDestination || untilUnbind)) {
  console.error('usage: node client.js HOST PORT SYSTEM_ID PASSWORD HELD_DESTINATION\n' +
    '       node client.js --until-unbind HOST PORT SYSTEM_ID PASSWORD');
  process.exit(1);
}

const SOURCE = 'nodesmpp';
const DESTINATION = '447700900002';
const GSM_TEXT = 'Hello from node-smpp: @ £ $ ¥ è é Δ _ {curly} [square] €';
const UCS2_TEXT = 'Привет 👋 from node-smpp, 你好';
const LONG_TEXT = Array.from({length: 12}, (_, i) => `segment${i} of a long message`).join(' ');

function emit(event, fields) {
  process.stdout.write(JSON.stringify(Object.assign({event}, fields || {})) + '\n');
}

const watchdog = setTimeout(() => {
  emit('timeout', {after_ms: TIMEOUT_MS});
  process.exit(2);
}, TIMEOUT_MS);

function fail(error) {
  emit('error', {message: String(error && error.message || error)});
  clearTimeout(watchdog);
  process.exit(1);
}

const session = smpp.connect({host, port: Number(port), connectTimeout: 5000});
session.on('error', fail);

// Requests answered by their response PDU (whatever its status).
function request(command, options) {
  return new Promise((resolve, reject) => {
    const ok = session[command](options, resolve, undefined, (pdu, err) =>
      reject(new Error(`${command} could not be sent: ${err || pdu.command_status}`)));
    if (!ok) reject(new Error(`${command}: socket not writable`));
  });
}

const receipts = [];
let receiptWaiter = null;

function text(message) {
  if (message && typeof message === 'object' && !Buffer.isBuffer(message)) message = message.message;
  return Buffer.isBuffer(message) ? message.toString('latin1') : String(message);
}

session.on('deliver_sm', (pdu) => {
  session.send(pdu.response());
  const receipt = {
    esm_class: pdu.esm_class,
    data_coding: pdu.data_coding,
    receipted_message_id: pdu.receipted_message_id,
    message_state: pdu.message_state,
    text: text(pdu.short_message),
  };
  receipts.push(receipt);
  emit('deliver_sm', receipt);
  if (receiptWaiter && receipts.length >= receiptWaiter.n) {
    const {resolve} = receiptWaiter;
    receiptWaiter = null;
    resolve();
  }
});
session.on('enquire_link', (pdu) => session.send(pdu.response()));
session.on('unbind', (pdu) => {
  emit('unbind_from_smsc');
  session.send(pdu.response());
  session.close();
});

function receiptsUpTo(n) {
  if (receipts.length >= n) return Promise.resolve();
  return new Promise((resolve) => { receiptWaiter = {n, resolve}; });
}

const addresses = {
  source_addr_ton: 5, source_addr_npi: 0, source_addr: SOURCE,
  dest_addr_ton: 1, dest_addr_npi: 1, destination_addr: DESTINATION,
  registered_delivery: 1,
};

async function submit(label, fields) {
  const resp = await request('submit_sm', Object.assign({}, addresses, fields));
  emit('submit_sm_resp', {label, command_status: resp.command_status, message_id: resp.message_id});
  return resp;
}

async function main() {
  await new Promise((resolve) => session.once('connect', resolve));
  emit('connected');
  const bind = await request('bind_transceiver', {system_id: systemId, password});
  emit('bind_transceiver_resp', {command_status: bind.command_status, system_id: bind.system_id,
    sc_interface_version: bind.sc_interface_version});
  if (bind.command_status !== 0) throw new Error(`bind refused: ${bind.command_status}`);
  if (untilUnbind) {
    const closed = new Promise((resolve) => session.once('close', resolve));
    emit('bound');
    await closed;  // the 'unbind' handler answers and closes
    emit('done');
    return;
  }

  let submitted = 0;
  const first = await submit('gsm', {data_coding: 0, short_message: GSM_TEXT});
  submitted++;
  await submit('ucs2', {data_coding: 8, short_message: UCS2_TEXT});
  submitted++;
  await submit('payload', {data_coding: 0, message_payload: LONG_TEXT});
  submitted++;
  const half = Math.ceil(LONG_TEXT.length / 2);
  const parts = [LONG_TEXT.slice(0, half), LONG_TEXT.slice(half)];
  const ref = 0x5A;
  for (let i = 0; i < parts.length; i++) {
    const udh = Buffer.from([0x05, 0x00, 0x03, ref, parts.length, i + 1]);
    await submit('udh', {data_coding: 0, short_message: {udh, message: parts[i]}});
    submitted++;
  }
  await receiptsUpTo(submitted);

  const query = await request('query_sm', {message_id: first.message_id,
    source_addr_ton: 5, source_addr_npi: 0, source_addr: SOURCE});
  emit('query_sm_resp', {command_status: query.command_status, message_id: query.message_id,
    message_state: query.message_state, error_code: query.error_code,
    final_date: query.final_date instanceof Date ? query.final_date.toISOString() : query.final_date});

  const held = await submit('held', {destination_addr: heldDestination, data_coding: 0,
    short_message: 'hold me'});
  const cancel = await request('cancel_sm', {message_id: held.message_id,
    source_addr_ton: 5, source_addr_npi: 0, source_addr: SOURCE});
  emit('cancel_sm_resp', {command_status: cancel.command_status});
  await receiptsUpTo(submitted + 1);

  const unbind = await request('unbind', {});
  emit('unbind_resp', {command_status: unbind.command_status});
  await new Promise((resolve) => session.close(resolve));
  emit('done');
}

main().then(() => {
  clearTimeout(watchdog);
  process.exit(0);
}, fail);
