// The console's JavaScript (src/herald/web/static/), checked by `make lint`.
import js from "@eslint/js";
import globals from "globals";

export default [
  js.configs.recommended,
  {
    files: ["src/herald/web/static/**/*.js"],
    languageOptions: {
      ecmaVersion: 2022,
      sourceType: "module",
      globals: globals.browser,
    },
    rules: {
      // Module-level mutable state lives in store.js alone.
      "no-restricted-syntax": [
        "error",
        {
          selector: "Program > VariableDeclaration[kind='let']",
          message: "Keep the console's mutable state in store.js.",
        },
      ],
      "no-unused-vars": ["error", { caughtErrors: "none" }],
      eqeqeq: "error",
    },
  },
];
