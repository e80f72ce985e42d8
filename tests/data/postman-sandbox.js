// A tiny stand-in for Postman's script sandbox, so the tests run the collection's own JavaScript.
//
// stdin: {"script", "request": {"url"}, "response": {"code", "headers": [[name, value]], "body"} | null,
//         "collection": {name: value}, "environment": {name: value} | null, "caFile"}
// stdout: {"collection", "environment", "tests": [{"name", "passed", "error"}], "sent": [{"url", "method", "form",
//          "code"}], "console": [text], "scriptError": text | null}
//
// It implements what the d365local collection uses: pm.variables (get, replaceIn; environment before collection,
// as Postman resolves them), pm.collectionVariables / pm.environment (get, set, has, unset), pm.request.url,
// pm.response (code, json, text, headers.get), pm.test, pm.expect (to.eql, to.equal, to.be.oneOf, to.be.a) and
// pm.sendRequest (real HTTPS with the given CA file; urlencoded or raw bodies).
'use strict';

const fs = require('fs');
const http = require('http');
const https = require('https');

function readStdin() {
    return fs.readFileSync(0, 'utf8');
}

class Scope {
    constructor(values, active) {
        this.values = new Map(Object.entries(values || {}));
        this.active = active;
    }
    get(name) {
        return this.values.get(name);
    }
    set(name, value) {
        if (!this.active) {
            throw new Error('no active scope to set ' + name + ' in');
        }
        this.values.set(name, value === undefined || value === null ? value : String(value));
    }
    has(name) {
        return this.active && this.values.has(name);
    }
    unset(name) {
        this.values.delete(name);
    }
    toObject() {
        return this.active ? Object.fromEntries(this.values) : null;
    }
}

function show(value) {
    return JSON.stringify(value);
}

function expect(actual, message) {
    const fail = (text) => {
        throw new Error((message ? message + ': ' : '') + text);
    };
    const typeOf = (value) => (Array.isArray(value) ? 'array' : value === null ? 'null' : typeof value);
    const be = {
        oneOf(list) {
            if (!list.some((item) => show(item) === show(actual))) {
                fail('expected ' + show(actual) + ' to be one of ' + show(list));
            }
        },
        a(type) {
            if (typeOf(actual) !== type.toLowerCase()) {
                fail('expected ' + show(actual) + ' to be a ' + type);
            }
        },
    };
    be.an = be.a;
    return {
        to: {
            be,
            eql(expected) {
                if (show(actual) !== show(expected)) {
                    fail('expected ' + show(actual) + ' to deeply equal ' + show(expected));
                }
            },
            equal(expected) {
                if (actual !== expected) {
                    fail('expected ' + show(actual) + ' to equal ' + show(expected));
                }
            },
        },
    };
}

function responseObject(code, headers, body) {
    return {
        code,
        headers: {
            get(name) {
                const found = headers.find(([key]) => key.toLowerCase() === String(name).toLowerCase());
                return found ? found[1] : undefined;
            },
        },
        text() {
            return body;
        },
        json() {
            return JSON.parse(body);
        },
    };
}

function headerPairs(header) {
    if (!header) {
        return [];
    }
    if (Array.isArray(header)) {
        return header.filter((h) => !h.disabled).map((h) => [h.key, h.value]);
    }
    return Object.entries(header);
}

function send(request, ca, sent) {
    return new Promise((resolve) => {
        const options = typeof request === 'string' ? { url: request, method: 'GET' } : request;
        const url = new URL(options.url);
        const headers = Object.fromEntries(headerPairs(options.header));
        let payload = null;
        const record = { url: options.url, method: options.method || 'GET', form: null, code: null };
        if (options.body && options.body.mode === 'urlencoded') {
            const form = new URLSearchParams();
            record.form = {};
            for (const field of options.body.urlencoded) {
                form.append(field.key, field.value);
                record.form[field.key] = field.value;
            }
            payload = form.toString();
        } else if (options.body && options.body.mode === 'raw') {
            payload = options.body.raw;
        }
        if (payload !== null) {
            headers['Content-Length'] = Buffer.byteLength(payload);
        }
        sent.push(record);
        const transport = url.protocol === 'https:' ? https : http;
        const outgoing = transport.request(url, { method: record.method, headers, ca }, (incoming) => {
            const chunks = [];
            incoming.on('data', (chunk) => chunks.push(chunk));
            incoming.on('end', () => {
                record.code = incoming.statusCode;
                const pairs = [];
                for (let i = 0; i < incoming.rawHeaders.length; i += 2) {
                    pairs.push([incoming.rawHeaders[i], incoming.rawHeaders[i + 1]]);
                }
                resolve([null, responseObject(incoming.statusCode, pairs, Buffer.concat(chunks).toString('utf8'))]);
            });
        });
        outgoing.on('error', (error) => resolve([error, null]));
        if (payload !== null) {
            outgoing.write(payload);
        }
        outgoing.end();
    });
}

async function main() {
    const input = JSON.parse(readStdin());
    const collection = new Scope(input.collection, true);
    const environment = new Scope(input.environment, input.environment !== null && input.environment !== undefined);
    const ca = input.caFile ? fs.readFileSync(input.caFile) : undefined;
    const tests = [];
    const sent = [];
    const logged = [];
    const pending = [];
    const resolve = (name) => {
        const fromEnvironment = environment.has(name) ? environment.get(name) : undefined;
        return fromEnvironment !== undefined ? fromEnvironment : collection.get(name);
    };
    const variables = {
        get: resolve,
        replaceIn(text) {
            let result = String(text);
            for (let round = 0; round < 10; round += 1) {
                const next = result.replace(/\{\{([^{}]+)\}\}/g, (whole, name) => {
                    const value = resolve(name);
                    return value === undefined ? whole : value;
                });
                if (next === result) {
                    break;
                }
                result = next;
            }
            return result;
        },
    };
    const response = input.response
        ? responseObject(input.response.code, input.response.headers, input.response.body)
        : undefined;
    const pm = {
        variables,
        collectionVariables: collection,
        environment,
        request: { url: { toString: () => input.request.url } },
        response,
        test(name, fn) {
            try {
                fn();
                tests.push({ name, passed: true, error: null });
            } catch (error) {
                tests.push({ name, passed: false, error: String(error && error.message ? error.message : error) });
            }
        },
        expect,
        sendRequest(request, callback) {
            pending.push(send(request, ca, sent).then(([error, result]) => callback(error, result)));
        },
    };
    const console_ = {
        log: (...parts) => logged.push(parts.map(String).join(' ')),
        error: (...parts) => logged.push(parts.map(String).join(' ')),
    };
    let scriptError = null;
    try {
        new Function('pm', 'console', input.script)(pm, console_);
        while (pending.length) {
            await Promise.all(pending.splice(0));
        }
    } catch (error) {
        scriptError = String(error && error.stack ? error.stack : error);
    }
    process.stdout.write(
        JSON.stringify({
            collection: collection.toObject(),
            environment: environment.toObject(),
            tests,
            sent,
            console: logged,
            scriptError,
        }),
    );
}

main();
