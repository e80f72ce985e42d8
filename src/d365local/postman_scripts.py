"""The JavaScript the Postman collection runs (Postman's ``pm`` sandbox API): storing the token and its expiry,
fetching a new token before the current one expires, and checking each request's answer."""

from __future__ import annotations

STORE = """\
// Postman reads {{name}} from the active environment before the collection: keep both in step.
function store(name, value) {
    if (pm.environment.has(name)) {
        pm.environment.set(name, value);
    }
    pm.collectionVariables.set(name, value);
}
"""

KEEP_ACCESS = """\
// expires_in counts seconds from now (the v1 endpoint sends it as a string); keep the instant it lapses.
function keepToken(body) {
    store('accessToken', body.access_token);
    store('accessTokenExpiresOn', new Date(Date.now() + Number(body.expires_in) * 1000).toISOString());
}
"""

PRE_REQUEST = (
    STORE
    + KEEP_ACCESS
    + """\
// The client-credentials grant has no refresh token: when there is no token, or it expires within 5 minutes,
// ask the token endpoint again (a form body, as Entra requires). The token requests themselves are left alone.
(function () {
    if (pm.request.url.toString().indexOf('/oauth2/') !== -1) {
        return;
    }
    var expiresOn = Date.parse(pm.variables.get('accessTokenExpiresOn') || '');
    if (pm.variables.get('accessToken') && expiresOn - Date.now() > 5 * 60 * 1000) {
        return;
    }
    pm.sendRequest({
        url: pm.variables.replaceIn('{{authority}}/{{tenantId}}/oauth2/v2.0/token'),
        method: 'POST',
        header: [
            { key: 'Content-Type', value: 'application/x-www-form-urlencoded' },
            { key: 'Accept', value: 'application/json' }
        ],
        body: {
            mode: 'urlencoded',
            urlencoded: [
                { key: 'client_id', value: pm.variables.replaceIn('{{clientId}}') },
                { key: 'client_secret', value: pm.variables.replaceIn('{{clientSecret}}') },
                { key: 'scope', value: pm.variables.replaceIn('{{orgUrl}}/.default') },
                { key: 'grant_type', value: 'client_credentials' }
            ]
        }
    }, function (error, response) {
        if (error) {
            console.error('token request failed: ' + error);
            return;
        }
        var body = response.json();
        if (body.access_token) {
            keepToken(body);
        } else {
            console.error(body.error_description || JSON.stringify(body));
        }
    });
})();
"""
)

TOKEN_TEST = (
    STORE
    + KEEP_ACCESS
    + """\
pm.test('the token endpoint issued an access token', function () {
    pm.expect(pm.response.code).to.eql(200);
});
var body = pm.response.json();
if (body.access_token) {
    keepToken(body);
} else {
    // The AADSTS message says what is wrong (unknown app, wrong secret, no such resource...).
    console.error(body.error_description || JSON.stringify(body));
}
"""
)

WHOAMI_TEST = """\
pm.test('WhoAmI answers with the application user', function () {
    pm.expect(pm.response.code).to.eql(200);
    pm.expect(pm.response.json().UserId).to.be.a('string');
});
"""

CREATE_TEST = (
    STORE
    + """\
pm.test('the account was created', function () {
    pm.expect(pm.response.code).to.be.oneOf([201, 204]);
});
// With Prefer: return=representation the row comes back (201); without it, only its URL (204 + OData-EntityId).
var id = pm.response.code === 201 ? pm.response.json().accountid : null;
if (!id) {
    var match = /\\(([0-9a-fA-F-]{36})\\)$/.exec(pm.response.headers.get('OData-EntityId') || '');
    id = match ? match[1] : null;
}
if (id) {
    store('accountId', id);
}
"""
)

RETRIEVE_TEST = """\
pm.test('the account is there', function () {
    pm.expect(pm.response.code).to.eql(200);
    pm.expect(pm.response.json().accountid).to.eql(pm.variables.get('accountId'));
});
"""


def status_test(description: str, status: int) -> str:
    return f"""\
pm.test('{description}', function () {{
    pm.expect(pm.response.code).to.eql({status});
}});
"""


# --- building blocks -------------------------------------------------------------------------------------------
