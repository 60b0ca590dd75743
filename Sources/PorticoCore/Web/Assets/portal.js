// Portico's portals: the small things a page does better with script. Every page works without it.
// - a button with data-copy="ID" copies the text of element ID;
// - a form with data-confirm="question" asks before it is sent.
for (const button of document.querySelectorAll("button[data-copy]")) {
  button.hidden = false;
  button.addEventListener("click", async () => {
    const source = document.getElementById(button.dataset.copy);
    if (!source) return;
    const text = source.value ?? source.textContent;
    try {
      await navigator.clipboard.writeText(text);
    } catch {
      // Without the clipboard API (plain http on another host): select the text for Ctrl-C.
      const range = document.createRange();
      range.selectNodeContents(source);
      getSelection().removeAllRanges();
      getSelection().addRange(range);
    }
    const label = button.textContent;
    button.textContent = "Copied";
    setTimeout(() => (button.textContent = label), 1500);
  });
}

for (const form of document.querySelectorAll("form[data-confirm]")) {
  form.addEventListener("submit", (event) => {
    if (!confirm(form.dataset.confirm)) event.preventDefault();
  });
}

// The create form's "Create & Publish" appears once a production endpoint and a plan are given
// (without script it is always there, and the publisher API says what is missing).
const publish = document.querySelector("[data-needs-endpoint-and-plan]");
if (publish) {
  const form = publish.form;
  const update = () => {
    const endpoint = form.querySelector("#production").value.trim() !== "";
    const plan = form.querySelector("input[name^='plan.']:checked") !== null;
    publish.hidden = !(endpoint && plan);
  };
  form.addEventListener("input", update);
  form.addEventListener("change", update);
  update();
}
