// The same actions, written for each runtime, that the contract suite runs.
export interface RuntimeActions {
  /** OpenWhisk's hello action. */
  hello: string
  /** Returns the __OW_* variables and the init-time variable GREETING. */
  env: string
  throws: string
  /** Returns a number, not a dictionary. */
  nonDict: string
  /** Writes one line to stdout and one to stderr. */
  logs: string
  /** Does not compile: /init fails. */
  broken: string
  /** A zip whose entry point needs a bundled dependency; `main` names its entry function. */
  zip: { files: Record<string, string>; main: string; stored?: string[] }
}

export const nodejs: RuntimeActions = {
  hello: `function main(params) { return { payload: 'Hello, ' + params.name } }`,
  env: `function main() {
    const e = process.env
    return { id: e.__OW_ACTIVATION_ID, ns: e.__OW_NAMESPACE, name: e.__OW_ACTION_NAME,
             deadline: e.__OW_DEADLINE, tx: e.__OW_TRANSACTION_ID, greeting: e.GREETING }
  }`,
  throws: `function main() { throw new Error('boom') }`,
  nonDict: `function main() { return 42 }`,
  logs: `function main() { console.log('to stdout'); console.error('to stderr'); return {} }`,
  broken: `function main( { return {} }`,
  zip: {
    main: 'main',
    stored: ['node_modules/greeter/package.json'],
    files: {
      'package.json': JSON.stringify({ name: 'zipped', main: 'lib/action.js' }),
      'lib/action.js': `const greeter = require('greeter')\nexports.main = (p) => ({ payload: greeter.greet(p.name) })\n`,
      'node_modules/greeter/package.json': JSON.stringify({ name: 'greeter', main: 'greet.js' }),
      'node_modules/greeter/greet.js': `exports.greet = (n) => 'Hello from a dependency, ' + n\n`,
    },
  },
}

export const python: RuntimeActions = {
  hello: `def main(args):\n    return {'payload': 'Hello, ' + args['name']}\n`,
  env: `import os
def main(args):
    e = os.environ
    return {'id': e.get('__OW_ACTIVATION_ID'), 'ns': e.get('__OW_NAMESPACE'), 'name': e.get('__OW_ACTION_NAME'),
            'deadline': e.get('__OW_DEADLINE'), 'tx': e.get('__OW_TRANSACTION_ID'), 'greeting': e.get('GREETING')}
`,
  throws: `def main(args):\n    raise ValueError('boom')\n`,
  nonDict: `def main(args):\n    return 42\n`,
  logs: `import sys\ndef main(args):\n    print('to stdout')\n    print('to stderr', file=sys.stderr)\n    return {}\n`,
  broken: `def main(args)\n    return {}\n`,
  zip: {
    main: 'hello',
    files: {
      '__main__.py': `import greeter\n\ndef hello(args):\n    return {'payload': greeter.greet(args['name'])}\n`,
      'virtualenv/lib/python3.11/site-packages/greeter.py': `def greet(n):\n    return 'Hello from a dependency, ' + n\n`,
    },
  },
}
