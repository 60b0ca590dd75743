"""The reference tutorial, click by click, in headless Chromium (Debian's chromium and
chromium-driver, driven by Selenium), against a running Portico: the publisher console, the
developer portal, a WebSocket client outside the browser and the portal's live console.

Run by the Swift test BrowserTutorialTests (make test), which starts the processes and passes:
PUBLISHER (http://host:port), DEVPORTAL, ECHO_BACKEND (ws://...), SCREENSHOTS (a directory).
Exit status 0 when every check passed; a failed check raises with what was on the page.
"""

import json
import os
import sys
import time
import urllib.error
import urllib.parse
import urllib.request

import websocket  # websocket-client: a WebSocket client outside the browser
from selenium import webdriver
from selenium.common.exceptions import NoSuchElementException
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.support import expected_conditions as EC
from selenium.webdriver.support.ui import Select, WebDriverWait

PUBLISHER = os.environ["PUBLISHER"]
DEVPORTAL = os.environ["DEVPORTAL"]
ECHO_BACKEND = os.environ["ECHO_BACKEND"]
SCREENSHOTS = os.environ["SCREENSHOTS"]
os.makedirs(SCREENSHOTS, exist_ok=True)


def browser():
    options = webdriver.ChromeOptions()
    options.binary_location = os.environ.get("CHROMIUM", "/usr/bin/chromium")
    for argument in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--window-size=1280,1000",
                     "--disable-gpu", "--no-first-run", "--password-store=basic"):
        options.add_argument(argument)
    service = Service(executable_path=os.environ.get("CHROMEDRIVER", "/usr/bin/chromedriver"))
    driver = webdriver.Chrome(service=service, options=options)
    driver.set_page_load_timeout(30)
    return driver


class Tutorial:
    def __init__(self, driver):
        self.driver = driver
        self.wait = WebDriverWait(driver, 15)
        self.shots = 0

    # --- helpers -------------------------------------------------------------------------------
    def open(self, url):
        self.driver.get(url)

    def shot(self, name, width=None):
        if width:
            self.driver.set_window_size(width, 1000)
        self.shots += 1
        path = os.path.join(SCREENSHOTS, f"{self.shots:02d}-{name}.png")
        # The whole page, not just the window.
        height = self.driver.execute_script("return document.documentElement.scrollHeight")
        self.driver.set_window_size(width or 1280, min(max(height + 40, 600), 4000))
        self.driver.save_screenshot(path)
        self.driver.set_window_size(1280, 1000)

    def shot_element(self, name, element_id):
        """One part of a page (for the README's pictures)."""
        self.shots += 1
        self.driver.find_element(By.ID, element_id).screenshot(os.path.join(SCREENSHOTS, f"{self.shots:02d}-{name}.png"))

    def fill(self, element_id, text):
        field = self.driver.find_element(By.ID, element_id)
        field.clear()
        field.send_keys(text)

    def click(self, element_id):
        self.wait.until(EC.element_to_be_clickable((By.ID, element_id))).click()

    def text(self, element_id):
        return self.wait.until(EC.presence_of_element_located((By.ID, element_id))).text

    def expect(self, condition, what):
        if not condition:
            body = self.driver.find_element(By.TAG_NAME, "body").text[:2000]
            raise AssertionError(f"{what}\n--- page {self.driver.current_url} ---\n{body}")
        print(f"ok: {what}", flush=True)

    def exists(self, element_id):
        try:
            self.driver.find_element(By.ID, element_id)
            return True
        except NoSuchElementException:
            return False

    def sign_in(self, base, username, password):
        self.open(f"{base}/signin")
        self.fill("username", username)
        self.fill("password", password)
        self.click("sign-in")
        self.wait.until(EC.presence_of_element_located((By.ID, "signed-in-user")))

    def sign_out(self):
        self.click("sign-out")
        self.wait.until(EC.presence_of_element_located((By.ID, "sign-in")))

    def cookie_header(self):
        return "; ".join(f"{c['name']}={c['value']}" for c in self.driver.get_cookies())

    def http(self, method, url, data=None, cookies=None):
        """A request outside the browser with the browser's cookies: the status a page answered."""
        body = urllib.parse.urlencode(data).encode() if data is not None else None
        request = urllib.request.Request(url, data=body, method=method)
        if cookies:
            request.add_header("Cookie", cookies)
        if body is not None:
            request.add_header("Content-Type", "application/x-www-form-urlencoded")
        opener = urllib.request.build_opener(NoRedirect)
        try:
            with opener.open(request, timeout=10) as response:
                return response.status
        except urllib.error.HTTPError as error:
            return error.code

    # --- the publisher ---------------------------------------------------------------------------
    def publisher(self):
        self.open(f"{PUBLISHER}/")
        self.wait.until(EC.presence_of_element_located((By.ID, "sign-in")))
        self.expect("/publisher/signin" in self.driver.current_url, "the publisher asks to sign in")
        self.shot("publisher-sign-in")
        self.fill("username", "admin")
        self.fill("password", "wrong-password")
        self.click("sign-in")
        self.expect("Unknown user or wrong password" in self.text("signin-error"), "a wrong password is refused, in words")
        self.shot("publisher-sign-in-refused")
        self.fill("username", "admin")
        self.fill("password", "admin")
        self.click("sign-in")
        self.wait.until(EC.presence_of_element_located((By.ID, "api-list")))
        self.expect(self.text("signed-in-user") == "admin", "admin/admin signs in (development mode)")
        self.shot("publisher-apis-empty")

        # CREATE API -> Design a New WebSocket API
        self.click("create-api")
        self.wait.until(EC.presence_of_element_located((By.ID, "create-form")))
        publish = self.driver.find_element(By.ID, "create-and-publish")
        self.expect(not publish.is_displayed(), "Create & Publish waits for an endpoint and a plan")
        self.fill("name", "EchoWebSocket")
        self.fill("context", "/echowebsocket")
        self.fill("version", "1.0.0")
        self.fill("description", "The tutorial's echo service")
        self.fill("production", ECHO_BACKEND)
        self.click("plan-Gold")
        self.click("plan-Silver")
        self.expect(publish.is_displayed(), "Create & Publish appears once an endpoint and a plan are given")
        self.shot("publisher-create-api")
        publish.click()
        self.wait.until(EC.text_to_be_present_in_element((By.ID, "api-state"), "PUBLISHED"))
        self.expect("ws://" in self.text("gateway-urls") and "wss://" in self.text("gateway-urls"), "the overview shows the ws and wss URLs")
        self.echo_api = self.driver.current_url.rsplit("/", 1)[-1]
        self.shot("publisher-api-overview")
        for tab in ("design", "endpoint", "lifecycle", "subscriptions", "connections", "usage"):
            self.open(f"{PUBLISHER}/apis/{self.echo_api}/{tab}")
            self.wait.until(EC.presence_of_element_located((By.ID, "api-state")))
            self.shot(f"publisher-api-{tab}")

        # A field error, next to its field, in the REST API's words.
        self.open(f"{PUBLISHER}/apis/new")
        self.fill("name", "Broken")
        self.fill("context", "no-slash")
        self.fill("version", "1")
        self.click("create")
        self.expect("must start with '/'" in self.text("context-error"), "a field error is shown next to its field")
        # An API named <script>alert(1)</script> is text, never markup.
        self.fill("name", "<script>alert(1)</script>")
        self.fill("context", "/xss")
        self.fill("version", "1")
        self.click("create")
        self.wait.until(EC.presence_of_element_located((By.ID, "api-state")))
        heading = self.driver.find_element(By.TAG_NAME, "h1").text
        self.expect(heading.startswith("<script>alert(1)</script>"), "the API's name is shown as text")
        self.open(f"{PUBLISHER}/apis")
        self.expect("<script>alert(1)</script>" in self.text("api-list"), "the list shows the name as text")
        self.expect(self.driver.execute_script("return document.querySelectorAll('main script').length") == 0, "no script element was made")
        try:
            self.driver.switch_to.alert
            raise AssertionError("an alert opened")
        except Exception as error:
            if isinstance(error, AssertionError):
                raise
        self.shot("publisher-apis")

        # Admin pages: a creator without the publisher role.
        self.open(f"{PUBLISHER}/admin/plans")
        self.wait.until(EC.presence_of_element_located((By.ID, "plans")))
        self.shot("publisher-admin-plans")
        self.open(f"{PUBLISHER}/admin/users")
        self.fill("username", "creator1")
        self.fill("password", "password-1")
        self.click("role-creator")
        self.click("create-user")
        # The answer is a new page: wait for it, not for the table of the page the form was on.
        self.wait.until(EC.text_to_be_present_in_element((By.ID, "users"), "creator1"))
        self.expect("creator1" in self.text("users"), "the admin creates a creator")
        self.shot("publisher-admin-users")
        self.sign_out()
        self.sign_in(PUBLISHER, "creator1", "password-1")
        self.open(f"{PUBLISHER}/apis/new")
        self.wait.until(EC.presence_of_element_located((By.ID, "create-form")))
        self.expect(self.exists("create") and not self.exists("create-and-publish"), "a creator without the publisher role sees no Create & Publish")
        self.sign_out()

    # --- the developer portal ---------------------------------------------------------------------
    def devportal(self):
        self.open(f"{DEVPORTAL}/")
        self.wait.until(EC.presence_of_element_located((By.ID, "catalog")))
        self.expect("EchoWebSocket" in self.text("catalog"), "the anonymous catalog lists EchoWebSocket")
        self.shot("devportal-catalog")
        self.click("nav-signup")
        self.fill("username", "dev1")
        self.fill("password", "password-1")
        self.shot("devportal-sign-up")
        self.click("sign-up")
        self.wait.until(EC.presence_of_element_located((By.ID, "catalog")))
        self.expect(self.text("signed-in-user") == "dev1", "sign-up signs the developer in")
        self.driver.find_element(By.LINK_TEXT, "EchoWebSocket").click()
        self.wait.until(EC.presence_of_element_located((By.ID, "wizard")))
        self.expect("Gold" in self.text("plans") and "events per" in self.text("plans"), "the plans show their limits")
        self.shot("devportal-api-overview")

        # The key generation wizard: application -> subscription -> keys -> token -> copy.
        self.fill("wizard-app-name", "EchoApp")
        self.click("wizard-create-app")
        self.wait.until(EC.presence_of_element_located((By.ID, "wizard-application")))
        Select(self.driver.find_element(By.ID, "wizard-plan-choice")).select_by_visible_text("Gold")
        self.click("wizard-subscribe")
        self.wait.until(EC.presence_of_element_located((By.ID, "wizard-plan")))
        self.expect(self.text("wizard-plan") == "Gold", "subscribed with Gold")
        self.click("wizard-generate-keys")
        secret = self.text("consumer-secret")
        self.expect(len(secret) > 20, "the secret is shown once")
        self.expect("will not be shown again" in self.driver.find_element(By.ID, "step-keys").text, "with a clear warning")
        self.shot("devportal-wizard-keys")
        self.click("wizard-generate-token")
        token = self.text("access-token")
        self.expect(token.count(".") == 2, "the wizard issues a JWT")
        self.driver.execute_cdp_cmd("Browser.grantPermissions", {
            "origin": DEVPORTAL.split("/devportal")[0], "permissions": ["clipboardReadWrite", "clipboardSanitizedWrite"]})
        self.click("copy-token")
        copied = self.driver.execute_async_script(
            "const done = arguments[0]; navigator.clipboard.readText().then(done, () => done(null));")
        self.expect(copied == token, "Copy token puts the token on the clipboard")
        self.expect(token in self.text("wscat-header"), "the wscat commands carry the token")
        self.shot("devportal-wizard-token")
        self.shot_element("devportal-wizard", "wizard-steps")

        # The token outside the browser: a real WebSocket client through the gateway to the echo backend.
        ws_url = self.text("ws-url")
        connection = websocket.create_connection(ws_url, header=[f"Authorization: Bearer {token}"], timeout=10)
        connection.send("hello from outside the browser")
        self.expect(connection.recv() == "hello from outside the browser", "the copied token works with a WebSocket client")
        connection.close()

        # The live console, in the browser.
        self.driver.find_element(By.ID, "try-out").location_once_scrolled_into_view
        self.click("console-connect")
        self.wait.until(EC.text_to_be_present_in_element((By.ID, "console-state"), "open"))
        self.fill("console-message", "Hello, Portico!")
        self.click("console-send")
        self.wait.until(EC.text_to_be_present_in_element((By.ID, "console-log"), "← Hello, Portico!"))
        time.sleep(0.5)
        log = self.text("console-log")
        self.expect(log.count("→ Hello, Portico!") == 1 and log.count("← Hello, Portico!") == 1,
                    "the console's message went once through the gateway and came back once")
        self.click("console-binary")
        self.click("console-send")
        self.wait.until(EC.text_to_be_present_in_element((By.ID, "console-log"), "← binary, 15 bytes"))
        self.expect(True, "a binary message came back too")
        self.shot("devportal-console")
        self.shot_element("devportal-console-section", "console-section")
        self.click("console-close")
        self.wait.until(EC.text_to_be_present_in_element((By.ID, "console-log"), "closed: code 1000"))
        self.expect(True, "the close code is shown")

        # Applications.
        self.open(f"{DEVPORTAL}/applications")
        self.wait.until(EC.presence_of_element_located((By.ID, "applications")))
        self.shot("devportal-applications")
        self.driver.find_element(By.LINK_TEXT, "EchoApp").click()
        self.wait.until(EC.presence_of_element_located((By.ID, "keys")))
        self.dev1_application = self.driver.current_url
        self.shot("devportal-application")

        # A form posted without its CSRF token is refused (in the browser, and its status).
        self.driver.execute_script("document.querySelectorAll('form input[name=csrf]').forEach(e => e.remove())")
        self.fill("name", "Renamed")
        self.click("save-application")
        self.expect("did not come from this portal" in self.text("error-detail"), "a form without its CSRF token is refused")
        cookies = self.cookie_header()
        status = self.http("POST", f"{DEVPORTAL}/applications", {"name": "Sneaky"}, cookies)
        self.expect(status == 403, f"…with 403 (got {status})")
        self.sign_out()

    def blocked_console(self):
        """A refused handshake in the console: the publisher blocks the subscription."""
        self.sign_in(PUBLISHER, "admin", "admin")
        self.open(f"{PUBLISHER}/apis/{self.echo_api}/subscriptions")
        self.driver.find_element(By.XPATH, "//button[text()='Block']").click()
        # "UNBLOCKED" contains "BLOCKED": wait for the new page's Unblock button instead.
        self.wait.until(EC.presence_of_element_located((By.XPATH, "//button[text()='Unblock']")))
        self.expect(True, "the publisher blocks the subscription")
        self.sign_out()
        self.sign_in(DEVPORTAL, "dev1", "password-1")
        self.open(f"{DEVPORTAL}/apis/{self.echo_api}")
        deadline = time.time() + 20
        while True:
            self.click("console-connect")
            self.wait.until(lambda d: "refused" in d.find_element(By.ID, "console-log").text
                            or "connected" in d.find_element(By.ID, "console-log").text)
            log = self.text("console-log")
            if "refused: HTTP 403" in log or time.time() > deadline:
                break
            # The gateway had not yet applied the block: close and try again.
            if self.driver.find_element(By.ID, "console-close").is_enabled():
                self.click("console-close")
            time.sleep(1)
            self.driver.refresh()
        self.expect("refused: HTTP 403" in log, "the console shows the refusal's status and reason")
        self.shot("devportal-console-refused")
        self.sign_out()

    def other_developer(self):
        """Another developer cannot open dev1's application: 404."""
        self.open(f"{DEVPORTAL}/signup")
        self.fill("username", "dev2")
        self.fill("password", "password-2")
        self.click("sign-up")
        self.wait.until(EC.presence_of_element_located((By.ID, "catalog")))
        self.open(self.dev1_application)
        self.expect(self.driver.find_element(By.TAG_NAME, "h1").text == "Not Found", "another developer's application is not found")
        self.shot("devportal-not-found")
        status = self.http("GET", self.dev1_application, cookies=self.cookie_header())
        self.expect(status == 404, f"…with 404 (got {status})")

    def narrow(self):
        """Readable at 360 px."""
        self.open(f"{DEVPORTAL}/")
        self.shot("devportal-catalog-360", width=360)
        overflow = self.driver.execute_script("return document.documentElement.scrollWidth <= window.innerWidth + 1")
        self.expect(overflow, "no horizontal scrolling at 360 px")


class NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):
        return None


def main():
    driver = browser()
    tutorial = Tutorial(driver)
    try:
        tutorial.publisher()
        tutorial.devportal()
        tutorial.blocked_console()
        tutorial.other_developer()
        tutorial.narrow()
    except Exception:
        try:
            tutorial.shot("failure")
        finally:
            raise
    finally:
        driver.quit()
    print(json.dumps({"passed": True, "screenshots": tutorial.shots}))


if __name__ == "__main__":
    sys.exit(main())
