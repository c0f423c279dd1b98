// CATI console: the keyboard works like the phone keypad. Single-choice questions take one key;
// lists and numbers collect keys until # (or Enter). Typing into a text field is left alone.
(function () {
  "use strict";
  var script = document.getElementById("script");
  var keysForm = document.getElementById("keys-form");
  var keysInput = document.getElementById("keys");
  if (!script || !keysForm || !keysInput) { return; }
  var kind = script.getAttribute("data-kind");

  function typingElsewhere(target) {
    var tag = target && target.tagName;
    return target !== keysInput && (tag === "INPUT" || tag === "TEXTAREA" || tag === "SELECT");
  }

  document.addEventListener("keydown", function (event) {
    if (event.ctrlKey || event.metaKey || event.altKey || typingElsewhere(event.target)) { return; }
    var key = event.key;
    if (!/^[0-9#]$/.test(key) && key !== "Enter") { return; }
    event.preventDefault();
    if (key === "Enter") { if (keysInput.value) { keysForm.submit(); } return; }
    if (event.target !== keysInput) { keysInput.value += key; }
    else { keysInput.value += key; }
    if (kind === "single" || key === "#") { keysForm.submit(); }
  });
})();
