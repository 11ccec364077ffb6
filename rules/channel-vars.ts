// Which tenant variables (campaign and member `variables`) may become channel variables of the
// originate. Tenant input is untrusted and FreeSWITCH is shared by every tenant: a channel variable
// like `api_on_answer=system …` or `execute_on_answer=…` runs a command on the switch, others
// (`transfer_after_bridge`, `origination_caller_id_number`, `sip_h_*`, `absolute_codec_string`,
// `record_*`, `continue_on_fail`, …) steer the call. So a tenant variable is refused when
//   1. its name is not plain (`syntax`): only what the ESL layer can send unescaped, or
//   2. the dialer sets it (`engine`): our correlation and caller-ID variables always win, or
//   3. FreeSWITCH reads it (`freeswitch`): an exact name FreeSWITCH reads, a name in one of the
//      namespaces FreeSWITCH and its modules use, or a name with a token that marks a command or
//      a call-steering variable (`api`, `app`, `exec`, `hook`, `…_on_…`, `transfer`, `bridge`, …).
// Only `freeswitch` refusals can be lifted, by the operator (CHANNEL_VARIABLES_ALLOW), never by a
// tenant. The token and namespace rules are deliberately wider than the exact list: FreeSWITCH
// matches the command families by case-insensitive PREFIX (switch_channel_execute_on() and
// switch_channel_api_on() run every variable whose name starts with `execute_on_answer`,
// `api_on_answer`, …: `EXECUTE_ON_ANSWER_2` runs too) and modules keep adding variables, so a name
// that merely looks like one of them is refused rather than guessed safe (default deny).
// Channel variable lookups are case-insensitive (switch_event_get_header_ptr: strcasecmp), so
// every rule here is too.
//
// Sources (FreeSWITCH 1.10, github.com/signalwire/freeswitch):
// - src/include/switch_types.h: every SWITCH_*_VARIABLE define (execute_on_*, api_on_*,
//   api_hangup_hook, session_in_hangup_hook, exec_after_bridge_app, transfer_after_bridge, …);
// - literal names passed to switch_channel_get_variable / var_true / execute_on / api_on in
//   src/switch_channel.c, switch_ivr.c, switch_ivr_originate.c, switch_ivr_bridge.c,
//   switch_ivr_async.c, switch_ivr_play_say.c, switch_core_session.c, switch_core_state_machine.c,
//   switch_core_media.c, switch_core_io.c, mod_dptools and mod_sofia (header prefixes sip_h_,
//   sip_rh_, sip_ph_, sip_bye_h_, sip_info_h_, sip_mp_ in mod_sofia.h) — test/fixtures/
//   freeswitch-channel-variables.txt holds that list and the test refuses every name of it;
// - the Channel Variables catalog, developer.signalwire.com/freeswitch/Channel-Variables-Catalog/.

/** Longest accepted name. FreeSWITCH has no limit; ours keeps originate commands and logs sane. */
export const MAX_VARIABLE_NAME = 64;

/** ASCII letters, digits, `_` and `-` (`-` for SIP header names such as `sip_h_X-Account`), not
 *  starting with `-`. No `.` (a Mongo path separator), `=`, `,`, `{}`, `[]`, `:`, `$`, spaces,
 *  control or non-ASCII characters: they would end or change the originate's `{…}` block. */
const NAME = new RegExp(`^[A-Za-z0-9_][A-Za-z0-9_-]{0,${MAX_VARIABLE_NAME - 1}}$`);

/** Variables the dialer sets on every attempt (rules/numbers.ts attemptVariables). Tenants cannot
 *  set them; the worker's values always win. */
export const ENGINE_VARIABLES: readonly string[] = [
  'domain_name', 'presence_data', 'cc_queue', 'dlr_queue', 'dlr_member_id', 'dlr_current_attempt',
  'cc_member_attempt_count', 'cc_member_successful_count', 'dlr_session_id', 'dlr_workflow_id',
  'dlr_member_number_description', 'dlr_communication_type_code', 'dlr_communication_type_name',
  'origination_caller_id_number', 'origination_caller_id_name', 'origination_callee_id_number',
  'origination_callee_id_name', 'webitel_direction', 'cc_side',
];

/** The member workflow's run, set by placeCall (activities/member.ts) from its activity context, so
 *  the result router signals that run without the server looking up the current one. In the
 *  engine's `dlr_` namespace: no tenant value reaches FreeSWITCH under it. */
export const RUN_ID_VAR = 'dlr_run_id';

/** Set by esl/format.ts buildOriginate itself (it refuses them in its `vars`). */
export const ORIGINATE_VARIABLES: readonly string[] = ['origination_uuid', 'ignore_early_media', 'originate_timeout'];

/** The dialer's own namespaces (mod_callcenter's `cc_` too). */
export const ENGINE_PREFIXES: readonly string[] = ['dlr_', 'cc_', 'webitel_'];

/** v3 campaign variables the engine reads (§2.2: the anonymous caller-ID name), so tenants set them
 *  although they are in the `cc_` namespace. */
export const TENANT_ENGINE_VARIABLES: readonly string[] = ['cc_multiple_anonymous', 'cc_anonymous_name'];

/** FreeSWITCH variables a tenant may still set: `language` only picks the say/phrase language among
 *  those the operator configured (switch_ivr.c, switch_ivr_play_say.c), and v3 callflows use it. */
export const TENANT_FREESWITCH_VARIABLES: readonly string[] = ['language'];

/** Namespaces of FreeSWITCH variables: core families and the variables of its modules. */
export const FREESWITCH_PREFIXES: readonly string[] = [
  // commands and hooks
  'api_', 'execute_', 'exec_', 'nolocal',
  // the originate and its legs
  'origination_', 'originate_', 'originating_', 'originator', 'effective_', 'leg_', 'group_confirm_',
  'caller_id_', 'callee_id_', 'initial_callee_id_', 'pre_transfer_', 'last_sent_', 'outbound_redirect_',
  // bridging, transfers, parking, hangup
  'bridge_', 'transfer_', 'force_transfer_', 'att_xfer_', 'attxfer_', 'xfer_', 'park_', 'hangup_',
  'uuid_', 'signal_', 'hold_', 'temp_hold_', 'holding_', 'soft_holding_', 'intercept_', 'eavesdrop_',
  'campon_', 'mutex_', 'page_', 'monitor_', 'continue_on_', 'fail_on_',
  // media, codecs, SIP
  'sip_', 'sip-', 'sofia_', 'rtp_', 'rtcp_', 'srtp_', 'zrtp_', 'dtls_', 'webrtc_', 'verto_', 'media_',
  'bypass_', 'proxy_', 'codec_', 'absolute_codec', 'ep_codec', 'filter_codec', 'inherit_', 'jb_',
  'jitterbuffer_', 'video_', 'vad_', 'tone_detect_', 'fax_', 't38_', 'spandsp_', 'local_media_',
  'local_video_', 'local_text_', 'remote_media_', 'remote_video_', 'remote_text_', 'advertised_',
  'switch_', 'ndlb_', 'ice_', 'dtmf_', 'drop_dtmf',
  // recording, playback, speech
  'record_', 'recording_', 'playback_', 'sound_', 'tts_', 'asr_', 'audio_', 'echo_',
  // CDRs, events, accounting
  'process_cdr', 'force_process_cdr', 'skip_cdr', 'copy_', 'failed_', 'json_cdr', 'xml_cdr',
  'fire_', 'heartbeat_', 'enable_', 'disable_', 'ignore_', 'presence_', 'limit_', 'accountcode',
  // modules that read their own channel variables
  'conference_', 'fifo_', 'valet_', 'lcr_', 'nibble_', 'loopback_', 'voicemail_', 'vm_', 'httapi_',
  'curl_', 'lua_', 'v8_', 'python_', 'perl_', 'amd_', 'avmd_', 'spy_', 'sched_', 'rtmp_', 'skinny_',
  'freetdm_', 'ftdm_', 'rayo_', 'erlang_', 'distributor_', 'directory_', 'say_', 'read_',
  'current_application', 'last_bridge', 'bind_',
];

/** Name tokens (split at `_` and `-`) that mark a command, a hook or a call-steering variable. */
export const FREESWITCH_TOKENS: readonly string[] = [
  'api', 'app', 'apps', 'exec', 'execute', 'hook', 'hooks', 'nolocal', 'export', 'transfer', 'xfer',
  'bridge', 'originate', 'origination', 'record', 'recording', 'codec', 'ringback', 'cdr', 'dialplan',
  'sip', 'rtp', 'media', 'hangup', 'uuid',
];

/** Exact FreeSWITCH variable names the namespaces and tokens above do not already cover. */
export const FREESWITCH_NAMES: readonly string[] = [
  '3pcc_always_gen_sdp', 'add_ice_candidates', 'alert_info', 'ani', 'aniii', 'answer_delay',
  'answer_flags', 'auto_hunt', 'bda_terminators', 'cache_speech_handles', 'call_timeout', 'campon',
  'channel_cid_flipped', 'channel_name', 'chat_proto', 'context', 'core_video_blank_image',
  'default_language', 'delay_echo_debug_level', 'deny_refer_requests', 'destination_number',
  'detect_speech_result', 'digits_dialed_filter', 'direction', 'dlg_req_swap_direction', 'domain',
  'early_use_180', 'endpoint_disposition', 'event_channel_cookie', 'exclude_outgoing_extra_header',
  'failure_causes', 'forked_dial', 'fs_send_unsupported_info', 'fs_send_unsupported_message',
  'group_context', 'include_external_ip', 'inline_destination', 'ivr_menu_terminator',
  'last_transfered_conference', 'legacyDTLS', 'local_var_clobber', 'max_forwards',
  'max_session_transfers', 'member_wait', 'memory_debug', 'min_dup_digit_spacing_ms',
  'multicast_ttl', 'native_backup_extension', 'network_addr', 'no_throttle_limits',
  'null_channel_dtmf_queued', 'null_no_pre_answer', 'original_destination_number',
  'original_read_rate', 'outcall_flags', 'pass_rfc2833', 'passthru_ptime_mismatch',
  'play_and_detect_speech_close_asr', 'pound_replace', 'prefix-a-leg', 'preserve_originated_vars',
  'progress_timeout', 'push_channel_name', 'rdnis', 'recovered', 'recovery_profile_name',
  'refuse_t38', 'return_ring_ready', 'ring_ready', 'sdp_m_per_ptime', 'send_silence_when_idle',
  'sensitive_dtmf', 'session_copy_loglevel', 'skip_greeting', 'skip_instructions',
  'sleep_eat_digits', 'socket_resume', 'source', 'star_replace', 'stream_prebuffer',
  'supplied_pin', 'suppress_cng', 'supress_cng', 'timer_name', 'timezone', 'tod_tz_offset',
  'toll_allow', 'update_ignore_ua', 'user_context', 'user_name', 'v18_mode', 'verbose_presence',
  'verbose_sdp',
];

export type VariableRefusal = 'syntax' | 'engine' | 'freeswitch';

/** The operator's opt-ins: exact names and `prefix*` entries (case-insensitive, like FreeSWITCH). */
export interface ChannelVariableAllowList {
  names: ReadonlySet<string>;
  prefixes: readonly string[];
}

export const NO_ALLOWED_VARIABLES: ChannelVariableAllowList = { names: new Set(), prefixes: [] };

/** `sip_h_X-Account, sip_h_X-Tag-*` → allow list. Throws on an entry that is not a plain name
 *  (or a plain prefix followed by `*`): a typo must not silently allow nothing, or everything. */
export function parseAllowList(spec: string): ChannelVariableAllowList {
  const names = new Set<string>();
  const prefixes: string[] = [];
  for (const raw of spec.split(',')) {
    const entry = raw.trim();
    if (entry === '') continue;
    const prefix = entry.endsWith('*') ? entry.slice(0, -1) : null;
    if (!NAME.test(prefix ?? entry)) {
      throw new Error(`CHANNEL_VARIABLES_ALLOW: "${entry}" is not a variable name or a name prefix followed by *`);
    }
    if (prefix !== null) prefixes.push(prefix.toLowerCase());
    else names.add(entry.toLowerCase());
  }
  return { names, prefixes };
}

const lower = (list: readonly string[]) => list.map((s) => s.toLowerCase());
const engineNames = new Set(lower([...ENGINE_VARIABLES, ...ORIGINATE_VARIABLES]));
const tenantNames = new Set(lower([...TENANT_ENGINE_VARIABLES, ...TENANT_FREESWITCH_VARIABLES]));
const fsNames = new Set(lower(FREESWITCH_NAMES));
const fsPrefixes = lower(FREESWITCH_PREFIXES);
const fsTokens = new Set(lower(FREESWITCH_TOKENS));

/** Why FreeSWITCH would act on this (lower-case) name, or null. */
function freeswitchReason(name: string): string | null {
  if (fsNames.has(name)) return 'is a FreeSWITCH channel variable';
  const prefix = fsPrefixes.find((p) => name.startsWith(p));
  if (prefix) return `is in the FreeSWITCH namespace ${prefix}*`;
  const tokens = name.split(/[_-]/).filter(Boolean);
  const token = tokens.find((t) => fsTokens.has(t));
  if (token) return `contains "${token}", which marks FreeSWITCH commands or call control`;
  // `*_on_*`: execute_on_*, api_on_*, continue_on_fail, hangup_on_single_reject, …
  if (tokens.length > 1 && tokens.includes('on')) return 'has the form *_on_*, which marks FreeSWITCH commands or call control';
  return null;
}

export interface VariableProblem {
  name: string;
  refusal: VariableRefusal;
  /** Why, without the name: `is a FreeSWITCH channel variable; …` (callers name the variable). */
  reason: string;
}

/** Why a tenant may not set this channel variable, or null when it may. */
export function variableNameProblem(
  name: string,
  allow: ChannelVariableAllowList = NO_ALLOWED_VARIABLES,
): VariableProblem | null {
  if (!NAME.test(name)) {
    return {
      name,
      refusal: 'syntax',
      reason: `is not a valid variable name (ASCII letters, digits, _ and -, not starting with -, at most ${MAX_VARIABLE_NAME} characters)`,
    };
  }
  const key = name.toLowerCase();
  if (tenantNames.has(key)) return null;
  if (engineNames.has(key) || ENGINE_PREFIXES.some((p) => key.startsWith(p))) {
    return { name, refusal: 'engine', reason: 'is set by the dialer and cannot be set' };
  }
  const reason = freeswitchReason(key);
  if (!reason) return null;
  if (allow.names.has(key) || allow.prefixes.some((p) => key.startsWith(p))) return null;
  return {
    name,
    refusal: 'freeswitch',
    reason: `${reason}; tenants cannot set it (an operator can allow it with CHANNEL_VARIABLES_ALLOW)`,
  };
}

/** A CSV header as a variable name: trimmed, runs of spaces become `_` (`First Name` →
 *  `First_Name`). Anything else stays as it is and is then checked like every name. */
export function variableNameFromHeader(header: string): string {
  return header.trim().replace(/\s+/g, '_');
}

/**
 * The channel variables of an originate, as the worker sends them: the dialer's own variables
 * (exact ENGINE_VARIABLES names, set by attemptVariables after the tenant's) are kept; every other
 * name must pass variableNameProblem. This is the last check before FreeSWITCH: variables stored
 * before validation existed, or written straight into the database, stop here.
 */
export function channelVariablesToSend(
  vars: Record<string, string>,
  allow: ChannelVariableAllowList = NO_ALLOWED_VARIABLES,
): { vars: Record<string, string>; refused: VariableProblem[] } {
  const out: Record<string, string> = {};
  const refused: VariableProblem[] = [];
  for (const [name, value] of Object.entries(vars)) {
    const problem = ENGINE_VARIABLES.includes(name) ? null : variableNameProblem(name, allow);
    if (problem) refused.push(problem);
    else out[name] = value;
  }
  return { vars: out, refused };
}
