// Wire-format units: command framing, URL encoding, and byte-exact event serialization checked by
// re-encoding every event of the golden FreeSWITCH captures.
import assert from 'node:assert/strict';
import { readdirSync } from 'node:fs';
import { describe, it } from 'node:test';
import { CommandReader, eventFrame, serializeEvent, SimEvent, urlEncode } from '../simulator/protocol';
import { separateBlank, separateChar, parseDialString, parseOriginateArgs } from '../simulator/dialstring';
import { GOLDEN_DIR, header, loadGolden, parseFlatJson, parseFrames } from './simulator-support';

describe('CommandReader (read_packet framing)', () => {
  it('reassembles commands sent one byte at a time', () => {
    const r = new CommandReader();
    const text = 'api status\n\n';
    for (let i = 0; i < text.length - 1; i++) {
      r.push(Buffer.from(text[i] as string));
      assert.equal(r.next(), undefined);
    }
    r.push(Buffer.from('\n'));
    assert.deepEqual(r.next(), { command: 'api status', headers: [] });
  });

  it('accepts CRLF, skips leading blank lines and splits pipelined commands in order', () => {
    const r = new CommandReader();
    r.push(Buffer.from('\r\n\nauth ClueCon\r\n\r\nbgapi status\nJob-UUID: abc\n\nevent json ALL\n\n'));
    assert.equal(r.next()?.command, 'auth ClueCon');
    assert.deepEqual(r.next(), { command: 'bgapi status', headers: [['Job-UUID', 'abc']] });
    assert.equal(r.next()?.command, 'event json ALL');
    assert.equal(r.next(), undefined);
  });

  it('reads a Content-Length body after the blank line', () => {
    const r = new CommandReader();
    r.push(Buffer.from('sendevent CUSTOM\nEvent-Subclass: x::y\ncontent-length: 5\n\nhel'));
    assert.equal(r.next(), undefined);
    r.push(Buffer.from('loexit\n\n'));
    const c = r.next();
    assert.equal(c?.body, 'hello');
    assert.equal(r.next()?.command, 'exit');
  });
});

describe('urlEncode (switch_url_encode, no double encoding)', () => {
  it('follows the examples of the protocol notes', () => {
    assert.equal(urlEncode('::1'), '%3A%3A1');
    assert.equal(urlEncode('Fri, 14 Mar 2025 10:15:42 GMT'), 'Fri,%2014%20Mar%202025%2010%3A15%3A42%20GMT');
    assert.equal(urlEncode('100%41'), '100%41');
  });

  it('leaves safe punctuation alone and encodes every unsafe byte upper-case', () => {
    assert.equal(urlEncode(",/()'-._~!$*"), ",/()'-._~!$*");
    for (const ch of '\r\n #%&+:;<=>?@[\\]^`{|}"') {
      assert.equal(urlEncode(ch), `%${ch.charCodeAt(0).toString(16).toUpperCase().padStart(2, '0')}`);
    }
    assert.equal(urlEncode('é'), '%C3%A9');
    // Only upper-case hex digits protect a '%' (the hex table in switch_utils.c is upper-case).
    assert.equal(urlEncode('%ab'), '%25ab');
  });
});

describe('event serialization', () => {
  it('plain: URL-encoded values, body after an inner Content-Length, byte-exact outer length', () => {
    const ev: SimEvent = { name: 'BACKGROUND_JOB', headers: [['Event-Name', 'BACKGROUND_JOB'], ['Job-Command-Arg', 'a b&c']],
      body: '+OK é\n' };
    const body = serializeEvent(ev, 'plain');
    assert.equal(body, 'Event-Name: BACKGROUND_JOB\nJob-Command-Arg: a%20b%26c\nContent-Length: 7\n\n+OK é\n');
    const frame = eventFrame(ev, 'plain');
    assert.ok(frame.toString().startsWith(`Content-Length: ${Buffer.byteLength(body)}\nContent-Type: text/event-plain\n\n`));
  });

  it('json: compact, string values, duplicates kept, Content-Length and _body last', () => {
    const ev: SimEvent = { name: 'X', headers: [['Hangup-Cause', 'A'], ['N', '1'], ['Hangup-Cause', 'A']], body: 'x\n' };
    assert.equal(serializeEvent(ev, 'json'), '{"Hangup-Cause":"A","N":"1","Hangup-Cause":"A","Content-Length":"2","_body":"x\\n"}');
  });

  it('re-encodes every event of every golden capture to the identical bytes', () => {
    let checked = 0;
    for (const file of readdirSync(GOLDEN_DIR).filter((f) => f.endsWith('.recv'))) {
      const gc = loadGolden(file.slice(0, -5));
      for (const f of parseFrames(gc.recv).frames) {
        const ct = header(f.headers, 'Content-Type');
        const text = f.body.toString('utf8');
        let ev: SimEvent;
        let format: 'json' | 'plain';
        if (ct === 'text/event-json') {
          format = 'json';
          const hs = parseFlatJson(text);
          const b = hs.findIndex(([n]) => n === '_body');
          ev = { name: '', headers: b >= 0 ? hs.slice(0, b - 1) : hs, body: b >= 0 ? (hs[b] as [string, string])[1] : undefined };
        } else if (ct === 'text/event-plain') {
          format = 'plain';
          const end = text.indexOf('\n\n');
          const hs = text.slice(0, end).split('\n').map((l) => {
            const i = l.indexOf(': ');
            return [l.slice(0, i), decodeURIComponent(l.slice(i + 2))] as [string, string];
          });
          const last = hs[hs.length - 1] as [string, string];
          const hasBody = last[0] === 'Content-Length';
          ev = { name: '', headers: hasBody ? hs.slice(0, -1) : hs, body: hasBody ? text.slice(end + 2) : undefined };
        } else {
          continue;
        }
        assert.equal(eventFrame(ev, format).toString('utf8'), f.raw.toString('utf8'), `${file}: ${ev.headers[0]?.[1]}`);
        checked++;
      }
    }
    assert.ok(checked > 150, `checked ${checked} events`);
  });
});

describe('originate argument parsing (switch_separate_string)', () => {
  it('splits on blanks, keeps quoted words together and strips the quotes', () => {
    assert.deepEqual(separateBlank("{a='b c'}sofia/x/1 &park()  XML", 10), ['{a=b c}sofia/x/1', '&park()', 'XML']);
    assert.deepEqual(separateChar("a=1,b='x,y',c=\\,z", ',', 10), ['a=1', 'b=x,y', 'c=,z']);
    assert.deepEqual(separateChar('^^;a=1,2;b=3', ',', 10), ['a=1,2', 'b=3']);
  });

  it('parses originate arguments and dial-string variables', () => {
    const args = parseOriginateArgs('{origination_uuid=u1,x=1}[x=2,y=3]sofia/gateway/gw1/1001 &park() undef default Bob 555 30');
    assert.equal(args?.exten, '&park()');
    assert.equal(args?.dialplan, 'XML');
    assert.equal(args?.cidName, 'Bob');
    assert.equal(args?.timeoutSec, 30);
    const d = parseDialString(args?.aleg ?? '');
    assert.equal(d.url, 'sofia/gateway/gw1/1001');
    assert.deepEqual([...d.vars], [['origination_uuid', 'u1'], ['x', '2'], ['y', '3']]);
    assert.equal(parseOriginateArgs('sofia/gateway/gw1/1001'), undefined);
    assert.equal(parseOriginateArgs('a b c d e f g h'), undefined);
  });
});
