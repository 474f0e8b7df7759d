// AWS Signature Version 4 in the browser, as the aws CLI signs: the canonical request over the
// method, the escaped path (escaped once more, as every AWS SDK does for services other than
// S3), the sorted query, the signed headers host and x-amz-date, and the SHA-256 of the body.
// HMAC-SHA256 and SHA-256 come from WebCrypto where the page is a secure context (https, or
// http on localhost / 127.0.0.1); elsewhere from the small implementation below, which
// selfTest() checks against WebCrypto.
"use strict";

const SigV4 = (() => {
  const enc = new TextEncoder();
  const subtle = (globalThis.crypto && globalThis.crypto.subtle) || null;

  // ---- SHA-256 and HMAC-SHA256 (FIPS 180-4, RFC 2104) without WebCrypto ----
  const K = new Uint32Array([
    0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4, 0xab1c5ed5,
    0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174,
    0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da,
    0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7, 0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967,
    0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85,
    0xa2bfe8a1, 0xa81a664b, 0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070,
    0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3,
    0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7, 0xc67178f2]);

  function sha256Sync(bytes) {
    const n = bytes.length;
    const padded = new Uint8Array(((n + 9 + 63) >> 6) << 6);
    padded.set(bytes);
    padded[n] = 0x80;
    const dv = new DataView(padded.buffer);
    dv.setUint32(padded.length - 8, Math.floor(n / 0x20000000));
    dv.setUint32(padded.length - 4, (n << 3) >>> 0);
    const h = new Uint32Array([0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a, 0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19]);
    const w = new Uint32Array(64);
    const rotr = (x, r) => (x >>> r) | (x << (32 - r));
    for (let off = 0; off < padded.length; off += 64) {
      for (let i = 0; i < 16; i++) w[i] = dv.getUint32(off + 4 * i);
      for (let i = 16; i < 64; i++) {
        const s0 = rotr(w[i - 15], 7) ^ rotr(w[i - 15], 18) ^ (w[i - 15] >>> 3);
        const s1 = rotr(w[i - 2], 17) ^ rotr(w[i - 2], 19) ^ (w[i - 2] >>> 10);
        w[i] = (w[i - 16] + s0 + w[i - 7] + s1) >>> 0;
      }
      let [a, b, c, d, e, f, g, hh] = h;
      for (let i = 0; i < 64; i++) {
        const t1 = (hh + (rotr(e, 6) ^ rotr(e, 11) ^ rotr(e, 25)) + ((e & f) ^ (~e & g)) + K[i] + w[i]) >>> 0;
        const t2 = ((rotr(a, 2) ^ rotr(a, 13) ^ rotr(a, 22)) + ((a & b) ^ (a & c) ^ (b & c))) >>> 0;
        hh = g; g = f; f = e; e = (d + t1) >>> 0; d = c; c = b; b = a; a = (t1 + t2) >>> 0;
      }
      h[0] += a; h[1] += b; h[2] += c; h[3] += d; h[4] += e; h[5] += f; h[6] += g; h[7] += hh;
    }
    const out = new Uint8Array(32);
    const odv = new DataView(out.buffer);
    for (let i = 0; i < 8; i++) odv.setUint32(4 * i, h[i]);
    return out;
  }

  function hmacSync(key, msg) {
    let k = key.length > 64 ? sha256Sync(key) : key;
    const block = new Uint8Array(64);
    block.set(k);
    const ipad = new Uint8Array(64 + msg.length), opad = new Uint8Array(64 + 32);
    for (let i = 0; i < 64; i++) { ipad[i] = block[i] ^ 0x36; opad[i] = block[i] ^ 0x5c; }
    ipad.set(msg, 64);
    opad.set(sha256Sync(ipad), 64);
    return sha256Sync(opad);
  }

  const bytes = (v) => (typeof v === "string" ? enc.encode(v) : v);

  async function sha256(data) {
    data = bytes(data);
    if (subtle) return new Uint8Array(await subtle.digest("SHA-256", data));
    return sha256Sync(data);
  }

  async function hmac(key, msg) {
    key = bytes(key); msg = bytes(msg);
    if (subtle) {
      const k = await subtle.importKey("raw", key, { name: "HMAC", hash: "SHA-256" }, false, ["sign"]);
      return new Uint8Array(await subtle.sign("HMAC", k, msg));
    }
    return hmacSync(key, msg);
  }

  const hex = (b) => Array.from(b, (x) => x.toString(16).padStart(2, "0")).join("");

  // RFC 3986 escaping: everything but A-Z a-z 0-9 - _ . ~ as %XX (uppercase).
  function escape(s) {
    return Array.from(enc.encode(s), (c) => {
      const ch = String.fromCharCode(c);
      return /[A-Za-z0-9\-_.~]/.test(ch) ? ch : "%" + c.toString(16).toUpperCase().padStart(2, "0");
    }).join("");
  }

  function amzDate(d) {
    return d.toISOString().replace(/[-:]/g, "").replace(/\.\d{3}/, "");
  }

  // sign returns the headers to send with a request: X-Amz-Date and Authorization.
  // req: {method, path (escaped, as sent), query ([[name, value], …], unescaped), body (string),
  // host, region, service, accessKeyId, secretAccessKey, now (Date, optional)}.
  async function sign(req) {
    const date = amzDate(req.now || new Date());
    const day = date.slice(0, 8);
    const canonicalURI = req.path.split("/").map(escape).join("/");
    const canonicalQuery = (req.query || [])
      .map(([k, v]) => [escape(k), escape(String(v))])
      .sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : a[1] < b[1] ? -1 : a[1] > b[1] ? 1 : 0))
      .map(([k, v]) => k + "=" + v).join("&");
    const signedHeaders = "host;x-amz-date";
    const canonical = [req.method, canonicalURI, canonicalQuery,
      "host:" + req.host + "\n" + "x-amz-date:" + date + "\n", signedHeaders, hex(await sha256(req.body || ""))].join("\n");
    const scope = [day, req.region, req.service, "aws4_request"].join("/");
    const toSign = ["AWS4-HMAC-SHA256", date, scope, hex(await sha256(canonical))].join("\n");
    let key = await hmac("AWS4" + req.secretAccessKey, day);
    key = await hmac(key, req.region);
    key = await hmac(key, req.service);
    key = await hmac(key, "aws4_request");
    const signature = hex(await hmac(key, toSign));
    return {
      "X-Amz-Date": date,
      Authorization: "AWS4-HMAC-SHA256 Credential=" + req.accessKeyId + "/" + scope +
        ", SignedHeaders=" + signedHeaders + ", Signature=" + signature,
    };
  }

  // selfTest compares the fallback with RFC 4231 test case 2 and with WebCrypto (when present).
  async function selfTest() {
    const want = "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843";
    const got = hex(hmacSync(enc.encode("Jefe"), enc.encode("what do ya want for nothing?")));
    const long = enc.encode("x".repeat(1000));
    const webcrypto = subtle ? hex(new Uint8Array(await subtle.digest("SHA-256", long))) : null;
    return { rfc4231: got === want, webcrypto: subtle !== null, agree: webcrypto === null || webcrypto === hex(sha256Sync(long)) };
  }

  return { sign, escape, selfTest };
})();
