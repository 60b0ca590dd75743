/// A portal's browser session: who signed in, to which portal, and the token that every form and
/// script of that session must send back (CSRF). The cookie's value is never kept: the store holds
/// its SHA-256 only.
package struct WebSession: Sendable {
    package enum Portal: String, Sendable {
        case publisher, devportal
    }

    package let portal: Portal
    package let user: User
    package let csrfToken: String

    package init(portal: Portal, user: User, csrfToken: String) {
        self.portal = portal
        self.user = user
        self.csrfToken = csrfToken
    }
}
