// Where tenant-given URLs (webhooks) may send traffic. Loopback, private (RFC 1918, CGNAT, ULA),
// link-local, unspecified, multicast, broadcast, reserved and cloud-metadata targets are refused
// unless the operator lists them in WEBHOOK_ALLOW_HOSTS (host names, IPs or CIDRs). The API checks
// the URL as written (IP literals in every spelling the URL parser accepts: decimal, octal, hex,
// IPv4-mapped IPv6); delivery resolves the name, checks every address and connects only to a
// checked one (`guardedLookup`), so a name that resolves elsewhere later (DNS rebinding) is caught.
import dns from 'node:dns';
import net from 'node:net';
import { config } from './config';

const V4_BLOCKED: [string, number][] = [
  ['0.0.0.0', 8], // "this network", unspecified
  ['10.0.0.0', 8],
  ['100.64.0.0', 10], // CGNAT
  ['127.0.0.0', 8],
  ['169.254.0.0', 16], // link-local, cloud metadata 169.254.169.254
  ['172.16.0.0', 12],
  ['192.0.0.0', 24], // IETF protocol assignments
  ['192.0.2.0', 24], // TEST-NET-1
  ['192.88.99.0', 24], // 6to4 relay anycast
  ['192.168.0.0', 16],
  ['198.18.0.0', 15], // benchmarking
  ['198.51.100.0', 24], // TEST-NET-2
  ['203.0.113.0', 24], // TEST-NET-3
  ['224.0.0.0', 4], // multicast
  ['240.0.0.0', 4], // reserved, 255.255.255.255 broadcast
];
const V6_BLOCKED: [string, number][] = [
  ['::', 96], // unspecified, loopback ::1 and the deprecated IPv4-compatible ::a.b.c.d
  ['64:ff9b:1::', 48], // local-use NAT64
  ['100::', 64], // discard
  ['2001::', 23], // IETF protocol assignments (Teredo, ORCHID, …)
  ['2001:db8::', 32], // documentation
  ['fc00::', 7], // unique local (fd00:ec2::254 is the AWS metadata service)
  ['fe80::', 10], // link-local
  ['fec0::', 10], // site-local (deprecated)
  ['ff00::', 8], // multicast
];

const blocked = new net.BlockList();
for (const [a, p] of V4_BLOCKED) blocked.addSubnet(a, p, 'ipv4');
for (const [a, p] of V6_BLOCKED) blocked.addSubnet(a, p, 'ipv6');

/** Names that reach the local machine or a cloud metadata service whatever DNS says. */
const BLOCKED_NAMES = /^(localhost|metadata|metadata\.google\.internal|metadata\.goog|instance-data|instance-data\.ec2\.internal)$|\.(localhost|internal|local)$/;

/** The IPv4 address carried inside an IPv6 one (mapped ::ffff:a.b.c.d, NAT64 64:ff9b::/96, 6to4 2002::/16). */
function embeddedV4(ip6: string): string | null {
  const words = expand6(ip6);
  if (!words) return null;
  const v4 = (hi: number, lo: number) => `${hi >> 8}.${hi & 255}.${lo >> 8}.${lo & 255}`;
  if (words.slice(0, 5).every((w) => w === 0) && words[5] === 0xffff) return v4(words[6], words[7]);
  if (words[0] === 0x64 && words[1] === 0xff9b && words.slice(2, 6).every((w) => w === 0)) return v4(words[6], words[7]);
  if (words[0] === 0x2002) return v4(words[1], words[2]);
  return null;
}

/** An IPv6 address as its eight 16-bit words (dotted IPv4 tail accepted). */
function expand6(ip: string): number[] | null {
  let s = ip.toLowerCase().replace(/%.*$/, '');
  const tail = /(\d+\.\d+\.\d+\.\d+)$/.exec(s);
  if (tail) {
    const b = tail[1].split('.').map(Number);
    s = s.slice(0, -tail[1].length) + `${((b[0] << 8) | b[1]).toString(16)}:${((b[2] << 8) | b[3]).toString(16)}`;
  }
  const [head, rest] = s.split('::');
  const h = head ? head.split(':') : [];
  const r = rest !== undefined && rest !== '' ? rest.split(':') : [];
  const fill = s.includes('::') ? 8 - h.length - r.length : 0;
  const words = [...h, ...Array(fill).fill('0'), ...r].map((w) => parseInt(w, 16));
  return words.length === 8 && words.every((w) => Number.isInteger(w) && w >= 0 && w <= 0xffff) ? words : null;
}

export interface AllowList {
  hosts: Set<string>;
  cidrs: net.BlockList;
  empty: boolean;
}

/** "127.0.0.1/32, hooks.internal, ::1" → an allow-list (an entry that is neither a CIDR, an IP nor a name throws). */
export function parseAllowList(spec: string): AllowList {
  const hosts = new Set<string>();
  const cidrs = new net.BlockList();
  let empty = true;
  for (const raw of spec.split(',').map((s) => s.trim()).filter(Boolean)) {
    empty = false;
    const [addr, prefix] = raw.split('/');
    const family = net.isIP(addr);
    if (family) {
      const bits = prefix === undefined ? (family === 4 ? 32 : 128) : Number(prefix);
      if (!Number.isInteger(bits) || bits < 0 || bits > (family === 4 ? 32 : 128)) throw new Error(`WEBHOOK_ALLOW_HOSTS: bad prefix in "${raw}"`);
      cidrs.addSubnet(addr, bits, family === 4 ? 'ipv4' : 'ipv6');
    } else if (/^[a-z0-9.-]+$/i.test(raw) && prefix === undefined) {
      hosts.add(raw.toLowerCase().replace(/\.$/, ''));
    } else {
      throw new Error(`WEBHOOK_ALLOW_HOSTS: "${raw}" is not a host name, IP or CIDR`);
    }
  }
  return { hosts, cidrs, empty };
}

function allowedAddress(ip: string, allow: AllowList): boolean {
  const family = net.isIP(ip);
  if (family === 4) return allow.cidrs.check(ip, 'ipv4');
  const v4 = embeddedV4(ip);
  return allow.cidrs.check(ip, 'ipv6') || (v4 !== null && allow.cidrs.check(v4, 'ipv4'));
}

/** Why traffic to this IP address is refused, or null when it may go there. */
export function forbiddenAddress(ip: string, allow: AllowList): string | null {
  const family = net.isIP(ip);
  if (!family) return `${ip} is not an IP address`;
  if (allowedAddress(ip, allow)) return null;
  if (family === 4) return blocked.check(ip, 'ipv4') ? `${ip} is a loopback, private, link-local, reserved or metadata address` : null;
  const v4 = embeddedV4(ip);
  if (v4 !== null && blocked.check(v4, 'ipv4')) return `${ip} carries the non-public IPv4 address ${v4}`;
  return blocked.check(ip, 'ipv6') ? `${ip} is a loopback, unique-local, link-local, multicast or reserved address` : null;
}

/** The host of a URL as the network layer sees it: brackets off an IPv6 literal, lower case, no trailing dot. */
export function urlHost(url: URL): string {
  return url.hostname.replace(/^\[|\]$/g, '').toLowerCase().replace(/\.$/, '');
}

/**
 * Why a webhook URL is refused before any DNS lookup, or null. The WHATWG parser has already turned
 * 2130706433, 0x7f.1 and 0177.0.0.1 into 127.0.0.1.
 */
export function forbiddenUrl(raw: string, allow: AllowList): string | null {
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    return 'must be an http(s) URL';
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') return 'must be an http(s) URL';
  if (url.username || url.password) return 'must not carry credentials (use headers)';
  const host = urlHost(url);
  if (allow.hosts.has(host)) return null;
  if (net.isIP(host)) return forbiddenAddress(host, allow);
  if (!host.includes('.') || BLOCKED_NAMES.test(host)) return `${host} is a local or metadata host name`;
  return null;
}

type LookupCallback = (err: NodeJS.ErrnoException | null, address: string | dns.LookupAddress[], family?: number) => void;
export type Resolver = (host: string) => Promise<dns.LookupAddress[]>;

export const systemResolver: Resolver = (host) => dns.promises.lookup(host, { all: true, verbatim: true });

/** Thrown (as the connect error) when a name resolves to a refused address. */
export class ForbiddenTargetError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ForbiddenTargetError';
  }
}

/**
 * A `lookup` for http(s).request: resolves the name, refuses it when ANY address is refused (a name
 * that answers with a public and a private address is not trusted), and hands the checked
 * addresses to the socket, so the connection goes where the check looked.
 */
export function guardedLookup(allow: AllowList, resolve: Resolver = systemResolver) {
  return (hostname: string, options: { all?: boolean } | number, cb: LookupCallback): void => {
    const host = hostname.toLowerCase().replace(/\.$/, '');
    resolve(host).then(
      (addrs) => {
        if (!addrs.length) return cb(Object.assign(new Error(`${host}: no address`), { code: 'ENOTFOUND' }), []);
        if (!allow.hosts.has(host)) {
          for (const a of addrs) {
            const why = forbiddenAddress(a.address, allow);
            if (why) return cb(new ForbiddenTargetError(`${host} resolves to ${a.address}: ${why}`), []);
          }
        }
        if (typeof options === 'object' && options.all) cb(null, addrs);
        else cb(null, addrs[0].address, addrs[0].family);
      },
      (err: NodeJS.ErrnoException) => cb(err, []),
    );
  };
}

let cached: { spec: string; list: AllowList } | undefined;
/** The operator's allow-list (config.webhooks.allowHosts), parsed once per value. */
export function configuredAllowList(): AllowList {
  const spec = config.webhooks.allowHosts;
  if (cached?.spec !== spec) cached = { spec, list: parseAllowList(spec) };
  return cached.list;
}
